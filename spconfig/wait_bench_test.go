package spconfig

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// TestWaitPollsGrowLogarithmically drives the polling loop with a simulated
// clock: polls per job grow with the logarithm of the job's duration, are
// never closer than MinInterval, and a job is seen done at most
// max(MaxInterval, 20%) after it finished (issue 9).
func TestWaitPollsGrowLogarithmically(t *testing.T) {
	tests := []struct {
		job       time.Duration
		maxPolls  int
		seenUntil time.Duration
	}{
		{5 * time.Second, 6, 5*time.Second + 15*time.Second},
		{time.Minute, 11, time.Minute + 15*time.Second},
		{10 * time.Minute, 25, 12 * time.Minute},
		{30 * time.Minute, 32, 36 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.job.String(), func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			start := now
			c := &Client{now: func() time.Time { return now }, sleep: func(_ context.Context, d time.Duration) error {
				now = now.Add(d)
				return nil
			}}
			c.log = slog.New(slog.DiscardHandler)
			var polls []time.Time
			status := func(context.Context, string) (Job, error) {
				polls = append(polls, now)
				if len(polls) > 1000 {
					return Job{}, fmt.Errorf("runaway polling")
				}
				if now.Sub(start) >= tt.job {
					return Job{Status: StatusComplete}, nil
				}
				return Job{Status: StatusInProgress}, nil
			}
			if _, err := c.wait(context.Background(), JobExport, "j1", WaitOptions{Timeout: 2 * time.Hour}, status); err != nil {
				t.Fatal(err)
			}
			if len(polls) > tt.maxPolls {
				t.Errorf("%d polls for a %s job, want at most %d", len(polls), tt.job, tt.maxPolls)
			}
			for i := 1; i < len(polls); i++ {
				if gap := polls[i].Sub(polls[i-1]); gap < time.Second {
					t.Errorf("polls %d and %d only %s apart", i-1, i, gap)
				}
			}
			if seen := polls[len(polls)-1].Sub(start); seen > tt.seenUntil {
				t.Errorf("job of %s seen done after %s, want at most %s", tt.job, seen, tt.seenUntil)
			}
		})
	}
}
