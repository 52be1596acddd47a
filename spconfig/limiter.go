package spconfig

import (
	"context"
	"sync"
	"time"
)

// limiter is a sliding-window log: it lets at most n requests start in any
// window of length w. Each call reserves the earliest start time that keeps
// the last n reservations within the limit, then sleeps until then. A 429
// pauses every request of the client until its Retry-After has passed.
type limiter struct {
	n      int
	window time.Duration
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error

	mu    sync.Mutex
	times []time.Time // ring of the last n reserved start times, non-decreasing
	next  int         // index of the oldest reservation
	until time.Time   // no request starts before this time (server back-off)
}

func newLimiter(n int, window time.Duration, now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{n: n, window: window, now: now, sleep: sleep, times: make([]time.Time, n)}
}

// wait blocks until the caller may send one request, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	t := now
	if l.until.After(t) {
		t = l.until
	}
	if old := l.times[l.next]; !old.IsZero() {
		if free := old.Add(l.window); free.After(t) {
			t = free
		}
	}
	l.times[l.next] = t
	l.next = (l.next + 1) % l.n
	l.mu.Unlock()
	if d := t.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// pause keeps every request from starting before t.
func (l *limiter) pause(t time.Time) {
	l.mu.Lock()
	if t.After(l.until) {
		l.until = t
	}
	l.mu.Unlock()
}
