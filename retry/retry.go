// Package retry is the retry policy promoter's HTTP clients share (spconfig,
// forge, notify): a capped exponential backoff with jitter that honours the
// server's Retry-After, the parser of Retry-After in both of its forms (delay
// seconds and an HTTP date), and a sleep that ends with its context.
//
// Each client keeps its own loop, because what may be retried and how a
// failure is worded differ (a POST that starts a job is retried only when the
// server refused it); the delays and the waiting are decided here.
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is a capped exponential backoff with jitter.
type Backoff struct {
	// Min is the step of the first retry, Max the largest step.
	Min, Max time.Duration
	// MaxRetryAfter bounds how long one Retry-After is honoured: a server
	// asking for more is waited on for this long. Zero means Max.
	MaxRetryAfter time.Duration
}

// Delay is the wait before retry number attempt+1 (attempt is 0-based):
// uniformly in [b/2, b] with b = min(Max, Min*2^attempt), raised to
// retryAfter (bounded by MaxRetryAfter) when the server asked for longer.
// A Max below Min is taken as Min.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	step := max(b.Max, b.Min)
	if attempt >= 0 && attempt < 30 {
		if v := b.Min << attempt; v > 0 && v < step {
			step = v
		}
	}
	d := step
	if step > 0 {
		d = step/2 + rand.N(step/2+1)
	}
	limit := b.MaxRetryAfter
	if limit <= 0 {
		limit = max(b.Max, b.Min)
	}
	if ra := min(retryAfter, limit); ra > d {
		d = ra
	}
	return d
}

// After parses the value of a Retry-After header: delay seconds (fractions
// accepted) or an HTTP date, read against now. It returns 0 when the value
// is empty, unparsable, not positive, absurdly large or in the past.
func After(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 1e6 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Sleep waits for d or until ctx ends, whichever comes first; then it returns
// the context's cause (context.Cause), nil when the wait ended first. A d of
// zero or less does not wait and reports only whether ctx has ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
