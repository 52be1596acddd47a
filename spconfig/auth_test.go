package spconfig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenCachedAndRefreshedBeforeExpiry(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn int
		// fake-clock offsets of the calls, and the token each must carry
		at   []time.Duration
		want []string
	}{
		// 720 s tokens refresh a minute early, at 660 s.
		{"12 minute tokens", 720, []time.Duration{0, 5 * time.Minute, 659 * time.Second, 661 * time.Second, 1320 * time.Second, 1322 * time.Second}, []string{"tok-1", "tok-1", "tok-1", "tok-2", "tok-2", "tok-3"}},
		// 40 s tokens refresh a quarter early, at 30 s.
		{"short tokens", 40, []time.Duration{0, 29 * time.Second, 31 * time.Second, 35 * time.Second}, []string{"tok-1", "tok-1", "tok-2", "tok-2"}},
		// Without expires_in the client assumes 10 minutes.
		{"no expires_in", 0, []time.Duration{0, 8 * time.Minute, 10 * time.Minute}, []string{"tok-1", "tok-1", "tok-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTestTenant(t, script(scripted{status: 200, body: job("j1", "IN_PROGRESS", "EXPORT")}))
			tt.set(func(tt *testTenant) { tt.expiresIn = tc.expiresIn })
			c := tt.client(nil)
			start := tt.clock.Now()
			for i, off := range tc.at {
				tt.clock.Advance(start.Add(off).Sub(tt.clock.Now()))
				if _, err := c.ExportStatus(context.Background(), "j1"); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			var got []string
			for _, r := range tt.requests() {
				got = append(got, strings.TrimPrefix(r.Auth, "Bearer "))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("tokens used = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTokenRefreshOn401(t *testing.T) {
	tt := newTestTenant(t, script(scripted{status: 202, body: job("imp-1", "NOT_STARTED", "IMPORT")}))
	var ev events
	c := tt.client(func(c *Config) { c.Observer = ev.add })
	ctx := context.Background()
	if _, err := c.ExportStatus(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// The tenant revokes tok-1 (as when a token expires early): the next call,
	// an import, gets a 401, refreshes once and is sent once more.
	tt.set(func(tt *testTenant) { tt.revoked["tok-1"] = true })
	if _, err := c.StartImport(ctx, []byte(`{"objects":[]}`), nil, false); err != nil {
		t.Fatalf("StartImport after revocation: %v", err)
	}
	reqs := tt.requests()
	var auths []string
	for _, r := range reqs {
		auths = append(auths, r.Method+" "+strings.TrimPrefix(r.Auth, "Bearer "))
	}
	if want := "[GET tok-1 POST tok-1 POST tok-2]"; fmt.Sprint(auths) != want {
		t.Errorf("requests = %v, want %s", auths, want)
	}
	if n := tt.tokenCount(); n != 2 {
		t.Errorf("%d tokens fetched, want 2", n)
	}

	// A tenant that refuses every token: exactly one refresh and one retry,
	// then an Unauthorized error that says what to check.
	tt.set(func(tt *testTenant) {
		for i := 1; i < 100; i++ {
			tt.revoked[fmt.Sprintf("tok-%d", i)] = true
		}
	})
	before := len(tt.requests())
	_, err := c.StartImport(ctx, []byte(`{"objects":[]}`), nil, false)
	var ae *APIError
	if !errors.As(err, &ae) || !ae.Unauthorized() || !strings.Contains(err.Error(), "client secret") {
		t.Fatalf("error = %v, want an Unauthorized *APIError", err)
	}
	if n := len(tt.requests()) - before; n != 2 {
		t.Errorf("%d import requests for a persistent 401, want 2", n)
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantReqs  int // token requests
		wantUnath bool
	}{
		{"bad credentials", 401, `{"error":"invalid_client","error_description":"Bad credentials"}`, 2, true}, // header then params (auth style detection)
		{"token endpoint down", 503, `{"message":"unavailable"}`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tokenReqs := 0
			var mu sync.Mutex
			tt := newTestTenant(t, script(scripted{status: 200, body: `[]`}))
			tt.set(func(tt *testTenant) { tt.tokenStatus, tt.tokenBody = tc.status, tc.body })
			inner := tt.srv.Config.Handler
			tt.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/oauth/token" {
					mu.Lock()
					tokenReqs++
					mu.Unlock()
				}
				inner.ServeHTTP(w, r)
			})
			var ev events
			c := tt.client(func(c *Config) { c.Observer = ev.add; c.MaxRetries = 2 })
			_, err := c.ConfigObjects(context.Background())
			var ae *APIError
			if !errors.As(err, &ae) || ae.Operation != opToken || ae.Unauthorized() != tc.wantUnath {
				t.Fatalf("error = %v, want a token *APIError (unauthorized %v)", err, tc.wantUnath)
			}
			if n := len(tt.requests()); n != 0 {
				t.Errorf("%d API requests sent without a token", n)
			}
			var tokEvents int
			for _, e := range ev.list() {
				if e.Operation == opToken {
					tokEvents++
				}
			}
			if tc.wantUnath && tokEvents != 1 {
				t.Errorf("%d token events, want 1 (bad credentials are not retried)", tokEvents)
			}
			if !tc.wantUnath && tokEvents != 3 {
				t.Errorf("%d token events, want 3 (a temporary token failure is retried)", tokEvents)
			}
			if tc.wantReqs > 0 && tokenReqs != tc.wantReqs {
				t.Errorf("%d token requests, want %d", tokenReqs, tc.wantReqs)
			}
		})
	}
}

// TestNoCredentialsInOutput runs failing and succeeding calls with a debug
// logger and an observer, against a tenant that echoes the Authorization
// header and the secret into its error bodies, and checks that neither the
// secret nor any token reaches a log line, an error or an event.
func TestNoCredentialsInOutput(t *testing.T) {
	tt := newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
		echo := fmt.Sprintf(`{"messages":[{"text":"header %s secret %s"}]}`, r.Header.Get("Authorization"), testSecret)
		switch {
		case strings.HasSuffix(r.URL.Path, "/export/e500"):
			writeJSON(w, 500, echo)
		case strings.HasSuffix(r.URL.Path, "/export/e400"):
			writeJSON(w, 400, echo)
		default:
			writeJSON(w, 200, job("j1", "COMPLETE", "EXPORT"))
		}
	})
	log, buf := logBuffer()
	var ev events
	c := tt.client(func(c *Config) { c.Logger = log; c.Observer = ev.add; c.MaxRetries = 1 })
	ctx := context.Background()
	var errs []error
	for _, id := range []string{"ok", "e500", "e400"} {
		_, err := c.ExportStatus(ctx, id)
		errs = append(errs, err)
	}
	// Revoke the token, then break the token endpoint: 401 refresh path and a
	// token error that echoes the secret.
	tt.set(func(tt *testTenant) {
		tt.revoked["tok-1"] = true
		tt.tokenStatus = 401
		tt.tokenBody = `{"error":"invalid_client","error_description":"secret ` + testSecret + ` is wrong"}`
	})
	_, err := c.ExportStatus(ctx, "ok")
	errs = append(errs, err)
	if errs[1] == nil || errs[2] == nil || errs[3] == nil {
		t.Fatalf("errors = %v, want the last three calls to fail", errs)
	}
	var texts []string
	texts = append(texts, buf.String(), fmt.Sprintf("%+v", c))
	for _, e := range errs {
		if e != nil {
			texts = append(texts, e.Error(), fmt.Sprintf("%#v", e))
		}
	}
	for _, e := range ev.list() {
		texts = append(texts, fmt.Sprintf("%+v", e))
		if e.Err != nil {
			texts = append(texts, e.Err.Error())
		}
	}
	if !strings.Contains(buf.String(), "spconfig request") {
		t.Fatalf("logger got no request lines: %s", buf.String())
	}
	for _, s := range texts {
		for _, bad := range []string{testSecret, "tok-1", "tok-2", "Bearer tok"} {
			if strings.Contains(s, bad) {
				t.Errorf("output contains %q: %s", bad, s)
			}
		}
	}
}
