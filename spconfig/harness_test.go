package spconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID = "test-client-id"
	testSecret   = "s3cr3t-VALUE-never-print"
)

// fakeClock is an injected clock: Sleep records the duration and moves time
// forward at once.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	return nil
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// recorded is one API request the test tenant saw.
type recorded struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   []byte
	At                                     time.Time // fake-clock time
}

// testTenant is a small scriptable tenant on 127.0.0.1: a token endpoint that
// issues tok-1, tok-2, ... and an API handler set per test.
type testTenant struct {
	t     *testing.T
	srv   *httptest.Server
	clock *fakeClock

	mu          sync.Mutex
	tokens      int    // tokens issued
	expiresIn   int    // seconds; 0 leaves expires_in out
	tokenStatus int    // when set, the token endpoint answers this status
	tokenBody   string // body for tokenStatus
	revoked     map[string]bool
	reqs        []recorded
	api         http.HandlerFunc
}

func newTestTenant(t *testing.T, api http.HandlerFunc) *testTenant {
	t.Helper()
	tt := &testTenant{t: t, clock: newFakeClock(), expiresIn: 720, revoked: map[string]bool{}, api: api}
	tt.srv = httptest.NewServer(http.HandlerFunc(tt.serve))
	t.Cleanup(tt.srv.Close)
	return tt
}

func (tt *testTenant) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		tt.serveToken(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	tt.mu.Lock()
	tt.reqs = append(tt.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body, At: tt.clock.Now()})
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	bad := !strings.HasPrefix(auth, "tok-") || tt.revoked[auth]
	api := tt.api
	tt.mu.Unlock()
	if bad {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_token","error_description":"token expired"}`)
		return
	}
	api(w, r)
}

func (tt *testTenant) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	tt.mu.Lock()
	defer tt.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if tt.tokenStatus != 0 {
		w.WriteHeader(tt.tokenStatus)
		_, _ = io.WriteString(w, tt.tokenBody)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || id != testClientID || secret != testSecret {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"Bad credentials"}`)
		return
	}
	tt.tokens++
	m := map[string]any{"access_token": fmt.Sprintf("tok-%d", tt.tokens), "token_type": "bearer"}
	if tt.expiresIn > 0 {
		m["expires_in"] = tt.expiresIn
	}
	_ = json.NewEncoder(w).Encode(m)
}

func (tt *testTenant) requests() []recorded {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return append([]recorded(nil), tt.reqs...)
}

func (tt *testTenant) tokenCount() int {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.tokens
}

func (tt *testTenant) set(f func(tt *testTenant)) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	f(tt)
}

// client returns a client for the tenant using its fake clock.
func (tt *testTenant) client(mod func(*Config)) *Client {
	tt.t.Helper()
	cfg := Config{
		BaseURL:      tt.srv.URL,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		HTTPClient:   tt.srv.Client(),
		Now:          tt.clock.Now,
		Sleep:        tt.clock.Sleep,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		tt.t.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// script answers successive requests with the given responses, then repeats
// the last one.
type scripted struct {
	status int
	body   string
	header map[string]string
	hangup bool // close the connection without an answer
}

func script(steps ...scripted) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := steps[min(n, len(steps)-1)]
		n++
		mu.Unlock()
		if s.hangup {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		writeJSON(w, s.status, s.body)
	}
}

const jobJSON = `{"jobId":"%s","status":"%s","type":"%s","expiration":"2025-03-08T12:00:00Z","created":"2025-03-01T12:00:00.123456Z","modified":"2025-03-01T12:00:01.1Z"}`

func job(id, status, typ string) string { return fmt.Sprintf(jobJSON, id, status, typ) }

// logBuffer returns a debug logger writing JSON lines to a buffer.
func logBuffer() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// events collects RequestEvents.
type events struct {
	mu sync.Mutex
	ev []RequestEvent
}

func (e *events) add(ev RequestEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
}

func (e *events) list() []RequestEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RequestEvent(nil), e.ev...)
}
