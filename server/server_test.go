package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"promoter/pipeline"
)

// fakeSched is a hand-written Scheduler.
type fakeSched struct {
	mu        sync.Mutex
	running   map[string]bool
	triggered []string
	status    []pipeline.PipelineStatus
}

func (f *fakeSched) Trigger(name, trigger string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case name == "stopping":
		return pipeline.ErrStopping
	case name != "p" && name != "q":
		return fmt.Errorf("pipeline %q: %w", name, pipeline.ErrUnknownPipeline)
	case f.running[name]:
		return fmt.Errorf("pipeline %s: %w", name, pipeline.ErrRunning)
	}
	f.running[name] = true
	f.triggered = append(f.triggered, name+":"+trigger)
	return nil
}

func (f *fakeSched) Status() []pipeline.PipelineStatus { return f.status }

// start serves s on 127.0.0.1.
func start(t *testing.T, s http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func do(t *testing.T, method, url, auth string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestProbesFollowReadiness(t *testing.T) {
	s := New(Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "promoter_runs_total 0\n") })})
	url := start(t, s)
	check := func(path string, want int, body string) {
		t.Helper()
		code, got, _ := do(t, "GET", url+path, "")
		if code != want || !strings.Contains(got, body) {
			t.Errorf("GET %s = %d %q, want %d containing %q", path, code, got, want, body)
		}
	}
	check("/healthz", 200, "ok")
	check("/readyz", 503, "not ready: starting")
	check("/metrics", 200, "promoter_runs_total")
	check("/", 200, "not ready")
	check("/api/pipelines", 503, "not ready")
	check("/nope", 404, "")
	s.SetReady(&fakeSched{running: map[string]bool{}})
	check("/readyz", 200, "ready")
	s.SetNotReady("shutting down")
	check("/readyz", 503, "shutting down")
	check("/healthz", 200, "ok")
}

func TestTrigger(t *testing.T) {
	tests := []struct {
		name     string
		token    string // configured
		ready    bool
		pipeline string
		auth     string
		want     int
		body     string
	}{
		{"disabled without a token", "", true, "p", "Bearer x", 403, "serve.triggerTokenEnv"},
		{"no credentials", "s3cret", true, "p", "", 401, "missing bearer token"},
		{"wrong token", "s3cret", true, "p", "Bearer nope", 401, "wrong bearer token"},
		{"wrong scheme", "s3cret", true, "p", "Basic s3cret", 401, "wrong bearer token"},
		{"token prefix only", "s3cret", true, "p", "Bearer s3cre", 401, "wrong"},
		{"not ready", "s3cret", false, "p", "Bearer s3cret", 503, "not ready"},
		{"unknown pipeline", "s3cret", true, "zzz", "Bearer s3cret", 404, "no such pipeline"},
		{"stopping", "s3cret", true, "stopping", "Bearer s3cret", 503, "shutting down"},
		{"started", "s3cret", true, "p", "Bearer s3cret", 202, `"status": "started"`},
		{"scheme is case-insensitive", "s3cret", true, "q", "bearer s3cret", 202, "started"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := &fakeSched{running: map[string]bool{}}
			s := New(Options{TriggerToken: tc.token})
			if tc.ready {
				s.SetReady(fs)
			}
			url := start(t, s)
			code, body, hdr := do(t, "POST", url+"/api/pipelines/"+tc.pipeline+"/run", tc.auth)
			if code != tc.want || !strings.Contains(body, tc.body) {
				t.Errorf("POST = %d %s, want %d containing %q", code, body, tc.want, tc.body)
			}
			if code == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if code != 202 && len(fs.triggered) > 0 {
				t.Errorf("refused request still triggered %v", fs.triggered)
			}
			if code == 202 && (len(fs.triggered) != 1 || !strings.HasSuffix(fs.triggered[0], ":manual")) {
				t.Errorf("triggered = %v, want one manual run", fs.triggered)
			}
		})
	}
}

func TestTriggerConflictWhileRunning(t *testing.T) {
	fs := &fakeSched{running: map[string]bool{}}
	s := New(Options{TriggerToken: "t"})
	s.SetReady(fs)
	url := start(t, s)
	if code, body, _ := do(t, "POST", url+"/api/pipelines/p/run", "Bearer t"); code != 202 {
		t.Fatalf("first trigger = %d %s", code, body)
	}
	if code, body, _ := do(t, "POST", url+"/api/pipelines/p/run", "Bearer t"); code != 409 || !strings.Contains(body, "already running") {
		t.Errorf("second trigger = %d %s, want 409 already running", code, body)
	}
	if code, _, _ := do(t, "GET", url+"/api/pipelines/p/run", "Bearer t"); code != 405 {
		t.Errorf("GET on the trigger = %d, want 405", code)
	}
}

// evil is text that would run script or break the page if not escaped.
const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`

func TestStatusPageEscapesEverything(t *testing.T) {
	start0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	plan := &pipeline.Plan{Pipeline: "p", Source: "dev", Target: "prod", Revision: "0123456789abcdef",
		Counts: map[pipeline.Class]int{pipeline.ClassApply: 1}, Verdict: "blocked",
		Blocked: []string{"preview error: " + evil},
		Preview: &pipeline.PreviewReport{JobID: "j1", Status: "COMPLETE", Errors: []pipeline.TypedMessage{{Type: "SOURCE", Text: evil}}}}
	fs := &fakeSched{running: map[string]bool{}, status: []pipeline.PipelineStatus{{
		Name: "p" + evil, Source: "dev", Target: "prod", Mode: "auto", Schedule: "CRON_TZ=Europe/Berlin 0 6 * * 1-5",
		Next: start0.Add(24 * time.Hour),
		Runs: []pipeline.RunRecord{{ID: 2, Pipeline: "p", Trigger: "manual", Started: start0, Finished: start0.Add(3 * time.Second),
			Outcome: pipeline.OutcomeBlocked, Error: "blocked: " + evil, Blocked: []string{"conflict: " + evil},
			Steps: []pipeline.StepResult{{Name: "export", Duration: 1500 * time.Millisecond, Outcome: "ok", Detail: evil}}, Plan: plan},
			{ID: 1, Pipeline: "p", Trigger: "schedule", Started: start0.Add(-time.Hour), Finished: start0.Add(-time.Hour + time.Second),
				Outcome: pipeline.OutcomeFailed, Error: "export: " + evil}},
	}}}
	s := New(Options{Holds: func() []pipeline.Hold {
		return []pipeline.Hold{{Pipeline: "p" + evil, Reason: "freeze " + evil, By: "ops", Since: start0}}
	}})
	s.SetReady(fs)
	url := start(t, s)
	code, page, hdr := do(t, "GET", url+"/", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", code, hdr.Get("Content-Type"))
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<img") || strings.Contains(page, "onerror=alert") && !strings.Contains(page, "&lt;img") {
		t.Errorf("status page contains unescaped markup:\n%s", page)
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;", // escaped, not dropped
		"CRON_TZ=Europe/Berlin 0 6 * * 1-5",
		"freeze ",                      // hold
		"conflict: ",                   // blocked reason
		"1.5s",                         // step timing
		"<h2>promoter plan:",           // rendered Markdown heading
		"<table>",                      // plan count table
		"Verdict: BLOCKED",             // plan verdict
		"2026-03-02 06:00:00 UTC",      // next run
		`class="failed"`,               // failed run
		"Last plan (run 2",             // newest plan
		"<td>schedule</td>",            // trigger of the older run
		"Content-Security-Policy" + "", // checked below
	} {
		if want == "Content-Security-Policy" {
			continue
		}
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	tags := regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9]*)`).FindAllStringSubmatch(page, -1)
	allowed := map[string]bool{}
	for _, t := range strings.Fields("html head meta title style body header h1 h2 h3 h4 h5 h6 div main section dl dt dd span code table thead tbody tr th td ul li p strong pre details summary b br") {
		allowed[t] = true
	}
	for _, m := range tags {
		if !allowed[strings.ToLower(m[1])] {
			t.Errorf("status page has tag <%s> that the template does not write", m[1])
		}
	}
	_, js, _ := do(t, "GET", url+"/api/pipelines", "")
	if !strings.Contains(js, `"outcome": "blocked"`) || !strings.Contains(js, `"reason": "freeze`) {
		t.Errorf("/api/pipelines lacks the run or the hold:\n%s", js)
	}
}

func TestStatusPageWhileStarting(t *testing.T) {
	url := start(t, New(Options{}))
	code, page, _ := do(t, "GET", url+"/", "")
	if code != 200 || !strings.Contains(page, "not ready: starting") {
		t.Errorf("GET / before ready = %d:\n%s", code, page)
	}
}

var errSentinel = errors.New("x")

func TestTriggerInternalError(t *testing.T) {
	s := New(Options{TriggerToken: "t"})
	s.SetReady(errSched{})
	url := start(t, s)
	if code, _, _ := do(t, "POST", url+"/api/pipelines/p/run", "Bearer t"); code != 500 {
		t.Errorf("trigger with an unexpected scheduler error = %d, want 500", code)
	}
}

type errSched struct{}

func (errSched) Trigger(string, string) error      { return errSentinel }
func (errSched) Status() []pipeline.PipelineStatus { return nil }

// TestAPIHolds pins the holds of GET /api/pipelines: a pipeline's active
// holds under "holds" (pipeline, reason, by when known, since), none
// omitted, a pipeline without holds has no "holds" key.
func TestAPIHolds(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	fs := &fakeSched{running: map[string]bool{}, status: []pipeline.PipelineStatus{
		{Name: "p", Source: "dev", Target: "prod", Mode: "auto"},
		{Name: "q", Source: "dev", Target: "qa", Mode: "pull-request"},
	}}
	s := New(Options{Holds: func() []pipeline.Hold {
		return []pipeline.Hold{
			{Pipeline: "p", Reason: "freeze", By: "ann", Since: t0},
			{Pipeline: "nobody", Reason: "not a pipeline of the scheduler", Since: t0},
			{Pipeline: "p", Reason: "audit", Since: t0.Add(time.Minute)},
		}
	}})
	s.SetReady(fs)
	code, body, _ := do(t, "GET", start(t, s)+"/api/pipelines", "")
	want := `{
  "pipelines": [
    {
      "name": "p",
      "source": "dev",
      "target": "prod",
      "mode": "auto",
      "holds": [
        {
          "pipeline": "p",
          "reason": "freeze",
          "by": "ann",
          "since": "2026-03-02T09:30:00Z"
        },
        {
          "pipeline": "p",
          "reason": "audit",
          "since": "2026-03-02T09:31:00Z"
        }
      ],
      "runs": []
    },
    {
      "name": "q",
      "source": "dev",
      "target": "qa",
      "mode": "pull-request",
      "runs": []
    }
  ]
}
`
	if code != 200 || body != want {
		t.Errorf("GET /api/pipelines = %d\n%s\nwant\n%s", code, body, want)
	}
}
