package spconfig

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// jobTenant serves a job flow: POST starts job "j1"; status polls answer the
// statuses in order (the last repeats); download serves the given body.
type jobTenant struct {
	mu       sync.Mutex
	statuses []string
	polls    int
	download string
	message  string
	order    []string // "start", "poll", "download"
}

func (j *jobTenant) handler(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		defer j.mu.Unlock()
		switch {
		case r.Method == http.MethodPost:
			j.order = append(j.order, "start")
			writeJSON(w, 202, job("j1", StatusNotStarted, typ))
		case strings.HasSuffix(r.URL.Path, "/download"):
			j.order = append(j.order, "download")
			writeJSON(w, 200, j.download)
		default:
			j.order = append(j.order, "poll")
			s := j.statuses[min(j.polls, len(j.statuses)-1)]
			j.polls++
			body := job("j1", s, typ)
			if j.message != "" && (s == StatusFailed || s == StatusCancelled) {
				body = strings.TrimSuffix(body, "}") + `,"message":"` + j.message + `"}`
			}
			writeJSON(w, 200, body)
		}
	}
}

func (j *jobTenant) seen() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.order...)
}

func TestWaitPollsWithGrowingIntervals(t *testing.T) {
	jt := &jobTenant{statuses: []string{StatusNotStarted, StatusInProgress, StatusInProgress, StatusInProgress, StatusInProgress, StatusInProgress, StatusInProgress, StatusInProgress, StatusInProgress, StatusInProgress, StatusComplete}}
	tt := newTestTenant(t, jt.handler(JobExport))
	c := tt.client(nil)
	var seen []string
	j, err := c.WaitExport(context.Background(), "j1", WaitOptions{OnPoll: func(j Job) { seen = append(seen, j.Status) }})
	if err != nil || j.Status != StatusComplete {
		t.Fatalf("WaitExport = %+v, %v", j, err)
	}
	if len(seen) != 11 {
		t.Errorf("OnPoll saw %d statuses, want 11", len(seen))
	}
	var got []time.Duration
	for _, d := range tt.clock.Sleeps() {
		got = append(got, d.Round(time.Millisecond)/time.Millisecond)
	}
	// 5062.5ms rounds to 5063, 7593.75 to 7594, 11390.625 to 11391.
	want := []time.Duration{1000, 1500, 2250, 3375, 5063, 7594, 11391, 15000, 15000, 15000}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("poll intervals in ms (-want +got):\n%s", d)
	}
}

func TestWaitTerminalStatuses(t *testing.T) {
	for _, status := range []string{StatusFailed, StatusCancelled} {
		t.Run(status, func(t *testing.T) {
			jt := &jobTenant{statuses: []string{StatusInProgress, status}, message: "export of SOURCE failed"}
			tt := newTestTenant(t, jt.handler(JobExport))
			c := tt.client(nil)
			j, err := c.WaitExport(context.Background(), "j1", WaitOptions{})
			var je *JobError
			if !errors.As(err, &je) || je.Job.Status != status || j.Status != status {
				t.Fatalf("WaitExport = %+v, %v; want a *JobError with status %s", j, err, status)
			}
			if je.Job.Message != "export of SOURCE failed" || !strings.Contains(err.Error(), "export of SOURCE failed") {
				t.Errorf("JobError does not carry the job's message: %v", err)
			}
		})
	}
}

func TestWaitTimeout(t *testing.T) {
	jt := &jobTenant{statuses: []string{StatusInProgress}}
	tt := newTestTenant(t, jt.handler(JobImport))
	c := tt.client(nil)
	start := tt.clock.Now()
	j, err := c.WaitImport(context.Background(), "j1", WaitOptions{Timeout: 2 * time.Minute, MinInterval: 2 * time.Second, MaxInterval: 10 * time.Second})
	var te *TimeoutError
	if !errors.As(err, &te) || te.JobID != "j1" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitImport error = %v, want a *TimeoutError for j1", err)
	}
	if j.Status != StatusInProgress || te.Last.Status != StatusInProgress {
		t.Errorf("last job = %+v", j)
	}
	if elapsed := tt.clock.Now().Sub(start); elapsed != 2*time.Minute {
		t.Errorf("waited %v, want exactly the 2m timeout", elapsed)
	}
	if polls := len(jt.seen()); polls > 20 {
		t.Errorf("%d polls in 2 minutes with a 10s cap: intervals do not grow", polls)
	}
}

func TestWaitContextEnds(t *testing.T) {
	jt := &jobTenant{statuses: []string{StatusInProgress}}
	tt := newTestTenant(t, jt.handler(JobExport))
	c := tt.client(nil)
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	_, err := c.WaitExport(ctx, "j1", WaitOptions{OnPoll: func(Job) {
		polls++
		if polls == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "j1") {
		t.Fatalf("error = %v, want context.Canceled naming the job", err)
	}
	if polls != 3 {
		t.Errorf("%d polls, want 3", polls)
	}
}

func TestWaitStatusErrorNamesJob(t *testing.T) {
	tt := newTestTenant(t, script(scripted{status: 404, body: `{"detailCode":"404 Not found","messages":[{"text":"job not found"}]}`}))
	c := tt.client(nil)
	_, err := c.WaitImport(context.Background(), "gone", WaitOptions{})
	var ae *APIError
	if !errors.As(err, &ae) || !ae.NotFound() || !strings.Contains(err.Error(), "import job gone") {
		t.Fatalf("error = %v", err)
	}
}

func TestExportFlow(t *testing.T) {
	raw, _ := os.ReadFile("testdata/export.json")
	jt := &jobTenant{statuses: []string{StatusInProgress, StatusComplete}, download: string(raw)}
	tt := newTestTenant(t, jt.handler(JobExport))
	c := tt.client(nil)
	var names []string
	j, h, err := c.Export(context.Background(), ExportPayload{IncludeTypes: []string{"RULE"}}, WaitOptions{}, func(_ int, e Entry) error {
		names = append(names, e.Key().String())
		return nil
	})
	if err != nil || j.Status != StatusComplete || h.Tenant != "acme-sb" {
		t.Fatalf("Export = %+v, %+v, %v", j, h, err)
	}
	if d := cmp.Diff([]string{"TRANSFORM Lower: Name/ä", "RULE Build Name", "SOURCE Active Directory"}, names); d != "" {
		t.Errorf("entries (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"start", "poll", "poll", "download"}, jt.seen()); d != "" {
		t.Errorf("request order (-want +got):\n%s", d)
	}
}

func TestImportFlow(t *testing.T) {
	results, _ := os.ReadFile("testdata/import-results.json")
	tests := []struct {
		name       string
		statuses   []string
		wantJobErr bool
	}{
		{"complete", []string{StatusInProgress, StatusComplete}, false},
		{"failed still downloads results", []string{StatusInProgress, StatusFailed}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jt := &jobTenant{statuses: tc.statuses, download: string(results), message: "import failed"}
			tt := newTestTenant(t, jt.handler(JobImport))
			c := tt.client(nil)
			var startedWith Job
			var seenAtStart []string
			j, res, err := c.Import(context.Background(), []byte(`{"version":1,"objects":[]}`), &ImportOptions{ExcludeBackup: true}, true, WaitOptions{}, func(j Job) error {
				startedWith = j
				seenAtStart = jt.seen()
				return nil
			})
			if startedWith.JobID != "j1" || cmp.Diff([]string{"start"}, seenAtStart) != "" {
				t.Errorf("started called with %+v after %v, want job j1 before any poll", startedWith, seenAtStart)
			}
			if res == nil || res.ExportJobID != "backup-1" {
				t.Fatalf("results = %+v (err %v), want the downloaded results", res, err)
			}
			var je *JobError
			if got := errors.As(err, &je); got != tc.wantJobErr {
				t.Fatalf("error = %v, want JobError %v", err, tc.wantJobErr)
			}
			if tc.wantJobErr {
				if je.Results != res || j.Status != StatusFailed || !strings.Contains(err.Error(), "UNKNOWN_REFERENCE_RESOLVER") && !strings.Contains(err.Error(), "Unable to resolve") {
					t.Errorf("JobError = %v (results %p vs %p)", err, je.Results, res)
				}
			} else if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestImportStartedErrorStopsBeforePolling(t *testing.T) {
	jt := &jobTenant{statuses: []string{StatusComplete}}
	tt := newTestTenant(t, jt.handler(JobImport))
	c := tt.client(nil)
	boom := errors.New("cannot record job")
	j, _, err := c.Import(context.Background(), []byte(`{"objects":[]}`), nil, false, WaitOptions{}, func(Job) error { return boom })
	if !errors.Is(err, boom) || j.JobID != "j1" {
		t.Fatalf("Import = %+v, %v; want the started error and the job", j, err)
	}
	if d := cmp.Diff([]string{"start"}, jt.seen()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

func TestResumeImport(t *testing.T) {
	results, _ := os.ReadFile("testdata/import-results.json")
	jt := &jobTenant{statuses: []string{StatusInProgress, StatusComplete}, download: string(results)}
	tt := newTestTenant(t, jt.handler(JobImport))
	c := tt.client(nil)
	j, res, err := c.ResumeImport(context.Background(), "j1", WaitOptions{})
	if err != nil || j.Status != StatusComplete || res == nil || len(res.Results) != 2 {
		t.Fatalf("ResumeImport = %+v, %+v, %v", j, res, err)
	}
	if d := cmp.Diff([]string{"poll", "poll", "download"}, jt.seen()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

// TestWaitLongJobPollsSparsely: past MaxInterval the pause grows with the
// time already waited (at most a fifth of it), so a 10-minute job needs few
// polls and is seen done soon after it finished.
func TestWaitLongJobPollsSparsely(t *testing.T) {
	var tt *testTenant
	var doneAt time.Time
	polls := 0
	tt = newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
		polls++
		status := StatusInProgress
		if !tt.clock.Now().Before(doneAt) {
			status = StatusComplete
		}
		writeJSON(w, 200, job("j1", status, JobExport))
	})
	doneAt = tt.clock.Now().Add(10 * time.Minute)
	c := tt.client(nil)
	start := tt.clock.Now()
	if _, err := c.WaitExport(context.Background(), "j1", WaitOptions{}); err != nil {
		t.Fatal(err)
	}
	late := tt.clock.Now().Sub(doneAt)
	if polls > 30 || late > 10*time.Minute/5+time.Second {
		t.Errorf("10-minute job: %d polls, seen done %v late", polls, late)
	}
	var waited time.Duration
	for _, d := range tt.clock.Sleeps() {
		if d > max(15*time.Second, waited/5) {
			t.Errorf("pause %v after %v waited: above max(15s, a fifth)", d, waited)
		}
		waited += d
	}
	t.Logf("%d polls, done seen %v late, total %v", polls, late, tt.clock.Now().Sub(start))
}

// TestWaitIsBoundedWhenPollsGetNoAnswer: a status endpoint that accepts and
// never answers costs one AttemptTimeout per attempt, and the whole wait,
// retries included, ends at the wait's timeout with a *TimeoutError.
func TestWaitIsBoundedWhenPollsGetNoAnswer(t *testing.T) {
	tt := newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	c := tt.client(func(cfg *Config) {
		cfg.HTTPClient, cfg.AttemptTimeout = nil, 400*time.Millisecond
		cfg.Now, cfg.Sleep = nil, nil
		cfg.RetryWaitMin, cfg.RetryWaitMax = 10*time.Millisecond, 20*time.Millisecond
	})
	start := time.Now()
	_, err := c.WaitExport(context.Background(), "j1", WaitOptions{Timeout: time.Second})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the wait took %s with a 1s timeout", d)
	}
	var te *TimeoutError
	if !errors.As(err, &te) && (err == nil || !strings.Contains(err.Error(), "no answer from the tenant")) {
		t.Errorf("err = %v, want a timeout or no answer", err)
	}
}
