package spconfig

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRetryPolicy drives each kind of call through failure sequences and
// counts the requests the tenant saw. The import rows are the rule that
// matters most: a POST that starts an import is retried only on 429 and 503.
func TestRetryPolicy(t *testing.T) {
	ok := map[string]scripted{
		"get":    {status: 200, body: job("j1", "IN_PROGRESS", "EXPORT")},
		"export": {status: 202, body: job("j1", "NOT_STARTED", "EXPORT")},
		"import": {status: 202, body: job("j1", "NOT_STARTED", "IMPORT")},
		"upload": {status: 202, body: `{"jobId":"u1","status":"NOT_STARTED","type":"BACKUP"}`},
		"action": {status: 200, body: `{"id":"a1","jobType":"CREATE_DRAFT","content":{"name":"promoter"}}`},
		"deploy": {status: 202, body: `{"jobId":"d1","status":"NOT_STARTED","type":"CONFIG_DEPLOY_DRAFT"}`},
	}
	calls := map[string]func(c *Client) error{
		"get":    func(c *Client) error { _, err := c.ExportStatus(context.Background(), "j1"); return err },
		"export": func(c *Client) error { _, err := c.StartExport(context.Background(), ExportPayload{}); return err },
		"import": func(c *Client) error {
			_, err := c.StartImport(context.Background(), []byte(`{"version":1,"objects":[]}`), nil, false)
			return err
		},
		"upload": func(c *Client) error {
			_, err := c.StartUpload(context.Background(), []byte(`{"version":1,"objects":[]}`), "promoter")
			return err
		},
		"action": func(c *Client) error {
			_, err := c.CreateScheduledAction(context.Background(), ScheduledActionPayload{JobType: "CREATE_DRAFT",
				Content: ScheduledActionContent{Name: "promoter", SourceBackupID: "u1", SourceTenant: "t"}})
			return err
		},
		"deploy": func(c *Client) error { _, err := c.StartDeploy(context.Background(), "d1"); return err },
	}
	s429 := scripted{status: 429, body: `{"message":"Rate Limit Exceeded"}`, header: map[string]string{"Retry-After": "1"}}
	s500 := scripted{status: 500, body: `{"detailCode":"500.0 Internal Fault","messages":[{"text":"oops"}]}`}
	s502 := scripted{status: 502, body: "bad gateway"}
	s503 := scripted{status: 503, body: `{"messages":[{"text":"unavailable"}]}`}
	s504 := scripted{status: 504, body: ""}
	s400 := scripted{status: 400, body: `{"messages":[{"text":"bad"}]}`}
	s404 := scripted{status: 404, body: `{}`}
	hang := scripted{hangup: true}
	tests := []struct {
		call      string
		steps     []string
		wantReqs  int
		wantErr   bool
		errSubstr string
	}{
		{"get", []string{"429", "500", "502", "503", "504", "ok"}, 6, false, ""},
		{"get", []string{"hang", "hang", "ok"}, 0, false, ""}, // the transport may add its own retries: count not checked
		{"get", []string{"400"}, 1, true, "400 Bad Request"},
		{"get", []string{"404"}, 1, true, "404 Not Found"},
		{"get", []string{"500"}, 7, true, "500 Internal Server Error"}, // 1 + MaxRetries(6)
		{"export", []string{"429", "503", "ok"}, 3, false, ""},
		// A second export job is harmless: the start is retried like a GET.
		{"export", []string{"500", "ok"}, 2, false, ""},
		{"export", []string{"502", "504", "ok"}, 3, false, ""},
		{"export", []string{"hang", "ok"}, 0, false, ""},
		{"export", []string{"500"}, 7, true, "500"},
		{"import", []string{"429", "503", "429", "ok"}, 4, false, ""},
		{"import", []string{"500", "ok"}, 1, true, "500 Internal Server Error"},
		{"import", []string{"502", "ok"}, 1, true, "502"},
		{"import", []string{"504", "ok"}, 1, true, "504"},
		{"import", []string{"hang", "ok"}, 1, true, "may have reached the tenant"},
		{"import", []string{"503"}, 7, true, "503"},
		// Configuration Hub POSTs that create something: the same rule.
		{"upload", []string{"429", "503", "ok"}, 3, false, ""},
		{"upload", []string{"500", "ok"}, 1, true, "500 Internal Server Error"},
		{"upload", []string{"hang", "ok"}, 1, true, "Configuration Hub upload jobs before starting another"},
		{"action", []string{"429", "ok"}, 2, false, ""},
		{"action", []string{"502", "ok"}, 1, true, "502"},
		{"deploy", []string{"503", "ok"}, 2, false, ""},
		{"deploy", []string{"504", "ok"}, 1, true, "504"},
		{"deploy", []string{"hang", "ok"}, 1, true, "may have reached the tenant"},
	}
	byName := map[string]scripted{"429": s429, "500": s500, "502": s502, "503": s503, "504": s504, "400": s400, "404": s404, "hang": hang}
	for _, tc := range tests {
		t.Run(tc.call+"/"+strings.Join(tc.steps, ","), func(t *testing.T) {
			var steps []scripted
			for _, s := range tc.steps {
				if s == "ok" {
					steps = append(steps, ok[tc.call])
				} else {
					steps = append(steps, byName[s])
				}
			}
			tt := newTestTenant(t, script(steps...))
			var ev events
			c := tt.client(func(c *Config) { c.Observer = ev.add })
			err := calls[tc.call](c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.errSubstr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.errSubstr)
			}
			if tc.wantReqs > 0 {
				if got := len(tt.requests()); got != tc.wantReqs {
					t.Errorf("tenant saw %d requests, want %d", got, tc.wantReqs)
				}
			}
			// The observer saw every attempt (plus one token request), and only
			// the last one is not marked as retried.
			evs := ev.list()
			var api []RequestEvent
			for _, e := range evs {
				if e.Operation != opToken {
					api = append(api, e)
				}
			}
			if len(api) == 0 {
				t.Fatal("observer saw no API attempts")
			}
			for i, e := range api {
				if want := i < len(api)-1; e.Retry != want {
					t.Errorf("event %d Retry = %v, want %v (%+v)", i, e.Retry, want, e)
				}
			}
			if last := api[len(api)-1]; (last.Err != nil) != tc.wantErr {
				t.Errorf("last event Err = %v", last.Err)
			}
		})
	}
}

// TestImportNotRetriedOnTimeout: the tenant takes longer than the client's
// timeout to answer the import. The client must not send it again.
func TestImportNotRetriedOnTimeout(t *testing.T) {
	release := make(chan struct{})
	tt := newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	hc := tt.srv.Client()
	hc.Timeout = 100 * time.Millisecond
	c := tt.client(func(c *Config) { c.HTTPClient = hc })
	_, err := c.StartImport(context.Background(), []byte(`{"version":1,"objects":[]}`), nil, false)
	if err == nil || !strings.Contains(err.Error(), "not retried") {
		t.Fatalf("error = %v, want a not-retried transport error", err)
	}
	var te *transportError
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("error %v is not a timeout transportError", err)
	}
	if got := len(tt.requests()); got != 1 {
		t.Errorf("tenant saw %d import requests, want exactly 1", got)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter func(now time.Time) string
		want       time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		{"http date", func(now time.Time) string { return now.Add(20 * time.Second).Format(http.TimeFormat) }, 20 * time.Second},
		{"longer than the backoff cap", func(time.Time) string { return "45" }, 45 * time.Second},
		{"capped at 5 minutes", func(time.Time) string { return "3600" }, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tt *testTenant
			n := 0
			tt = newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
				n++
				if n == 1 {
					w.Header().Set("Retry-After", tc.retryAfter(tt.clock.Now()))
					writeJSON(w, 429, `{"message":"Rate Limit Exceeded"}`)
					return
				}
				writeJSON(w, 202, job("imp-1", "NOT_STARTED", "IMPORT"))
			})
			c := tt.client(nil)
			if _, err := c.StartImport(context.Background(), []byte(`{"objects":[]}`), nil, true); err != nil {
				t.Fatal(err)
			}
			reqs := tt.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < tc.want || gap > tc.want+time.Second {
				t.Errorf("retry came %v after the 429, want %v (sleeps %v)", gap, tc.want, tt.clock.Sleeps())
			}
		})
	}
}

func TestRetryGivesUpBeforeDeadline(t *testing.T) {
	tt := newTestTenant(t, script(scripted{status: 429, body: `{"message":"slow down"}`, header: map[string]string{"Retry-After": "60"}}))
	c := tt.client(func(c *Config) { c.Now = time.Now }) // the deadline is real time
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.ExportStatus(ctx, "j1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 429 || !strings.Contains(err.Error(), "would pass the deadline") {
		t.Fatalf("error = %v, want the 429 and a note on the deadline", err)
	}
	if got := len(tt.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestRetryWaitBounds(t *testing.T) {
	c := &Client{waitMin: 500 * time.Millisecond, waitMax: 30 * time.Second}
	for attempt := 0; attempt < 40; attempt++ {
		b := min(c.waitMax, c.waitMin<<min(attempt, 20))
		for i := 0; i < 50; i++ {
			d := c.retryWait(attempt, 0)
			if d < b/2 || d > b {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, b/2, b)
			}
		}
	}
	if d := c.retryWait(0, 10*time.Second); d != 10*time.Second {
		t.Errorf("Retry-After 10s at attempt 0: wait %v", d)
	}
	if d := c.retryWait(0, time.Hour); d != maxRetryAfter {
		t.Errorf("Retry-After 1h: wait %v, want %v", d, maxRetryAfter)
	}
	// Jitter: the waits of one attempt are not all equal.
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		seen[c.retryWait(3, 0)] = true
	}
	if len(seen) < 2 {
		t.Errorf("no jitter: %v", seen)
	}
}

func TestBackoffGrows(t *testing.T) {
	tt := newTestTenant(t, script(scripted{status: 503, body: `{}`}))
	c := tt.client(func(c *Config) { c.MaxRetries = 8; c.RetryWaitMin = time.Second; c.RetryWaitMax = 8 * time.Second })
	if _, err := c.ExportStatus(context.Background(), "j1"); err == nil {
		t.Fatal("want an error after the retries")
	}
	sleeps := tt.clock.Sleeps()
	if len(sleeps) != 8 {
		t.Fatalf("sleeps = %v, want 8", sleeps)
	}
	for i, d := range sleeps {
		b := min(8*time.Second, time.Second<<i)
		if d < b/2 || d > b {
			t.Errorf("sleep %d = %v, want in [%v, %v]", i, d, b/2, b)
		}
	}
}
