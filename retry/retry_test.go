package retry

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestDelayBounds(t *testing.T) {
	b := Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second, MaxRetryAfter: 5 * time.Minute}
	for attempt := 0; attempt < 40; attempt++ {
		step := min(b.Max, b.Min<<min(attempt, 20))
		for i := 0; i < 50; i++ {
			d := b.Delay(attempt, 0)
			if d < step/2 || d > step {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, step/2, step)
			}
		}
	}
	if d := b.Delay(0, 10*time.Second); d != 10*time.Second {
		t.Errorf("Retry-After 10s at attempt 0: wait %v", d)
	}
	if d := b.Delay(0, time.Hour); d != 5*time.Minute {
		t.Errorf("Retry-After 1h: wait %v, want 5m", d)
	}
	// A Retry-After shorter than the backoff does not shorten it.
	if d := b.Delay(10, time.Second); d < 15*time.Second {
		t.Errorf("Retry-After 1s at attempt 10: wait %v, want the backoff (at least 15s)", d)
	}
	// Jitter: the waits of one attempt are not all equal.
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		seen[b.Delay(3, 0)] = true
	}
	if len(seen) < 2 {
		t.Errorf("no jitter: %v", seen)
	}
}

func TestDelayDefaultsAndEdges(t *testing.T) {
	// MaxRetryAfter 0 means Max.
	if d := (Backoff{Min: 100 * time.Millisecond, Max: 300 * time.Millisecond}).Delay(0, 3*time.Second); d != 300*time.Millisecond {
		t.Errorf("Retry-After 3s capped at Max 300ms: wait %v", d)
	}
	// Max below Min is Min.
	if d := (Backoff{Min: time.Second, Max: time.Millisecond}).Delay(5, 0); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("Max below Min: wait %v, want in [500ms, 1s]", d)
	}
	// The zero Backoff does not wait (and does not panic).
	if d := (Backoff{}).Delay(3, 0); d != 0 {
		t.Errorf("zero Backoff: wait %v", d)
	}
	if d := (Backoff{Min: time.Second, Max: time.Minute}).Delay(-1, 0); d < 30*time.Second || d > time.Minute {
		t.Errorf("negative attempt: wait %v, want the cap's range", d)
	}
}

func TestAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"1.5", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"1e9", 0},
		{"Sat, 01 Mar 2025 12:00:09 GMT", 9 * time.Second}, // IMF-fixdate
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute},  // RFC 850
		{"Sat Mar  1 12:00:05 2025", 5 * time.Second},      // asctime
		{"Sat, 01 Mar 2025 11:00:00 GMT", 0},               // in the past
		{"Sat, 01 Mar 2025 12:00:00 GMT", 0},               // now
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := After(tc.in, now); got != tc.want {
			t.Errorf("After(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(t.Context(), 3*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("slept %v, want 3s", got)
		}
	})
}

func TestSleepCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(t.Context())
		start := time.Now()
		time.AfterFunc(time.Second, func() { cancel(cause) })
		if err := Sleep(ctx, time.Hour); !errors.Is(err, cause) {
			t.Errorf("Sleep = %v, want the cause %v", err, cause)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("returned after %v, want 1s (when cancelled)", got)
		}
		// Already cancelled: no wait, the cause.
		if err := Sleep(ctx, 0); !errors.Is(err, cause) {
			t.Errorf("Sleep(cancelled, 0) = %v", err)
		}
		if err := Sleep(t.Context(), 0); err != nil {
			t.Errorf("Sleep(live, 0) = %v", err)
		}
	})
}

func TestSleepDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		if err := Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Sleep past the deadline = %v, want context.DeadlineExceeded", err)
		}
	})
}
