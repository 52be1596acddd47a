package spconfig

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"promoter/retry"
)

// checkWindow fails when more than n of the sorted times fall in any window
// of length w.
func checkWindow(t *testing.T, times []time.Time, n int, w time.Duration) {
	t.Helper()
	for i := n; i < len(times); i++ {
		if gap := times[i].Sub(times[i-n]); gap < w {
			t.Errorf("requests %d..%d started within %v (< %v): more than %d per window", i-n, i, gap, w, n)
		}
	}
}

func TestLimiterSequential(t *testing.T) {
	for _, tc := range []struct {
		n      int
		window time.Duration
		calls  int
	}{
		{5, 10 * time.Second, 23},
		{95, 10 * time.Second, 300},
		{1, time.Second, 4},
	} {
		clock := newFakeClock()
		l := newLimiter(tc.n, tc.window, clock.Now, clock.Sleep)
		var starts []time.Time
		for i := 0; i < tc.calls; i++ {
			if err := l.wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			starts = append(starts, clock.Now())
		}
		checkWindow(t, starts, tc.n, tc.window)
		// Not slower than needed: the first n go at once, and request n waits
		// exactly one window after request 0.
		if got := starts[tc.n-1].Sub(starts[0]); got != 0 {
			t.Errorf("n=%d: first %d requests spread over %v, want at once", tc.n, tc.n, got)
		}
		if tc.calls > tc.n {
			if got := starts[tc.n].Sub(starts[0]); got != tc.window {
				t.Errorf("n=%d: request %d waited %v, want %v", tc.n, tc.n, got, tc.window)
			}
		}
	}
}

// TestLimiterConcurrent runs many goroutines against one limiter in a
// synctest bubble (real limiter code, fake time).
func TestLimiterConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(10, 10*time.Second, time.Now, retry.Sleep)
		var mu sync.Mutex
		var starts []time.Time
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Go(func() {
				for i := 0; i < 10; i++ {
					if err := l.wait(t.Context()); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					starts = append(starts, time.Now())
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		if len(starts) != 80 {
			t.Fatalf("%d starts, want 80", len(starts))
		}
		checkWindow(t, starts, 10, 10*time.Second)
		if total := starts[79].Sub(starts[0]); total != 70*time.Second {
			t.Errorf("80 requests at 10 per 10s took %v, want 70s", total)
		}
	})
}

func TestLimiterPauseAndCancel(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(100, 10*time.Second, clock.Now, clock.Sleep)
	start := clock.Now()
	l.pause(start.Add(7 * time.Second))
	l.pause(start.Add(3 * time.Second)) // an earlier pause does not shorten it
	if err := l.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := clock.Now().Sub(start); got != 7*time.Second {
		t.Errorf("waited %v after a 7s pause", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx); err == nil {
		t.Error("wait with a cancelled context succeeded")
	}
}

// TestClientStaysUnderRateLimit sends more calls than the limit allows and
// checks the times at which the tenant saw them.
func TestClientStaysUnderRateLimit(t *testing.T) {
	tt := newTestTenant(t, script(scripted{status: 200, body: job("j1", "IN_PROGRESS", "EXPORT")}))
	c := tt.client(func(c *Config) { c.RateLimit = 4; c.RateWindow = 2 * time.Second })
	for i := 0; i < 13; i++ {
		if _, err := c.ExportStatus(context.Background(), "j1"); err != nil {
			t.Fatal(err)
		}
	}
	var at []time.Time
	for _, r := range tt.requests() {
		at = append(at, r.At)
	}
	checkWindow(t, at, 4, 2*time.Second)
	if total := at[12].Sub(at[0]); total != 6*time.Second {
		t.Errorf("13 calls at 4 per 2s took %v, want 6s", total)
	}
}

// TestRateLimitedClientPausesAll: a 429 with Retry-After holds back the
// client's other calls too.
func TestRateLimitedClientPausesAll(t *testing.T) {
	n := 0
	var mu sync.Mutex
	tt := newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "9")
			writeJSON(w, 429, `{"message":"Rate Limit Exceeded"}`)
			return
		}
		writeJSON(w, 200, job("j1", "IN_PROGRESS", "EXPORT"))
	})
	c := tt.client(func(c *Config) { c.MaxRetries = -1 })
	if _, err := c.ExportStatus(context.Background(), "j1"); err == nil {
		t.Fatal("want the 429 (retries disabled)")
	}
	if _, err := c.ExportStatus(context.Background(), "j1"); err != nil {
		t.Fatal(err)
	}
	reqs := tt.requests()
	if gap := reqs[1].At.Sub(reqs[0].At); gap != 9*time.Second {
		t.Errorf("next call %v after the 429, want 9s", gap)
	}
}
