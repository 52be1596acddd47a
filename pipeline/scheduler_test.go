package pipeline

import (
	"context"
	"errors"
	"promoter/config"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRuns is a RunFunc whose runs walk through named steps; each step
// blocks until the test releases it (or the run's context ends).
type fakeRuns struct {
	mu      sync.Mutex
	started map[string]int
	steps   []string // steps completed, "pipeline/step"
	release chan struct{}
	steps0  []string
	importN int // index of the step after which the import counts as started (-1: never)
}

func newFakeRuns(steps []string, importAfter int) *fakeRuns {
	return &fakeRuns{started: map[string]int{}, release: make(chan struct{}), steps0: steps, importN: importAfter}
}

func (f *fakeRuns) run(ctx context.Context, name string, hooks Hooks) (*Result, error) {
	f.mu.Lock()
	f.started[name]++
	f.mu.Unlock()
	res := &Result{Pipeline: name, Outcome: OutcomeImported}
	for i, s := range f.steps0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		select {
		case <-f.release:
		case <-ctx.Done():
			return res, ctx.Err()
		}
		res.Steps = append(res.Steps, StepResult{Name: s, Outcome: "ok"})
		f.mu.Lock()
		f.steps = append(f.steps, name+"/"+s)
		f.mu.Unlock()
		if i == f.importN && hooks.ImportStarted != nil {
			hooks.ImportStarted(name, "job-1")
		}
		if hooks.Step != nil {
			hooks.Step(name, s, time.Second, "ok")
		}
	}
	return res, nil
}

func (f *fakeRuns) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started[name]
}

func (f *fakeRuns) done() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.steps...)
}

func schedConfig(pipes ...*config.Pipeline) *config.Config {
	return &config.Config{Pipelines: pipes}
}

func TestSchedulerSkipsWhileRunningAndNothingElse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeRuns([]string{"export"}, -1)
		var skipped []string
		var mu sync.Mutex
		s, err := NewScheduler(schedConfig(
			&config.Pipeline{Name: "a", Schedule: "*/5 * * * *"},
			&config.Pipeline{Name: "b"},
		), SchedulerOptions{Run: f.run, OnSkip: func(p string) { mu.Lock(); skipped = append(skipped, p); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		time.Sleep(5 * time.Minute) // synctest: fake time; cron fires at :05
		synctest.Wait()
		if n := f.count("a"); n != 1 {
			t.Fatalf("after the first tick a started %d times, want 1", n)
		}
		// Still running: the next tick is skipped, a manual trigger refused.
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := f.count("a"); n != 1 {
			t.Errorf("a started %d times while its first run was going, want 1", n)
		}
		mu.Lock()
		if !cmp.Equal(skipped, []string{"a"}) {
			t.Errorf("skipped = %v, want [a]", skipped)
		}
		mu.Unlock()
		if err := s.Trigger("a", TriggerManual); !errors.Is(err, ErrRunning) {
			t.Errorf("manual trigger while running = %v, want ErrRunning", err)
		}
		// Another pipeline is not denied.
		if err := s.Trigger("b", TriggerManual); err != nil {
			t.Errorf("trigger b while a runs = %v, want nil", err)
		}
		synctest.Wait()
		if n := f.count("b"); n != 1 {
			t.Errorf("b started %d times, want 1", n)
		}
		f.release <- struct{}{} // finish a or b
		f.release <- struct{}{} // and the other
		synctest.Wait()
		// Once idle, the next tick runs again.
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := f.count("a"); n != 2 {
			t.Errorf("a started %d times after its first run ended, want 2", n)
		}
		f.release <- struct{}{}
		synctest.Wait()
		st := s.Status()
		if len(st) != 2 || st[0].Name != "a" || len(st[0].Runs) != 2 || st[0].Runs[0].Trigger != TriggerSchedule {
			t.Errorf("status = %+v, want a with 2 scheduled runs first", st)
		}
		if want := time.Date(2000, 1, 1, 0, 20, 0, 0, time.UTC); !st[0].Next.Equal(want) {
			t.Errorf("next run of a = %v, want %v", st[0].Next, want)
		}
		if !st[1].Next.IsZero() {
			t.Errorf("unscheduled b has a next run %v", st[1].Next)
		}
		s.Shutdown(context.Background())
	})
}

func TestSchedulerShutdown(t *testing.T) {
	steps := []string{"export", "plan", "import", "record"}
	tests := []struct {
		name        string
		importAfter int
		releases    int // steps released after Shutdown began
		wantSteps   []string
		wantElapsed time.Duration
		wantOutcome Outcome
	}{
		{"stops after the current step", -1, 1, []string{"p/export"}, 0, OutcomeFailed},
		{"a started import runs to its end", 0, 4, []string{"p/export", "p/plan", "p/import", "p/record"}, 0, OutcomeImported},
		{"cancelled after the grace period", -1, 0, nil, time.Minute, OutcomeFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeRuns(steps, tc.importAfter)
				var recs []RunRecord
				s, err := NewScheduler(schedConfig(&config.Pipeline{Name: "p"}), SchedulerOptions{
					Run: f.run, Grace: time.Minute, OnRun: func(r RunRecord) { recs = append(recs, r) },
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Trigger("p", TriggerManual); err != nil {
					t.Fatal(err)
				}
				if tc.importAfter >= 0 {
					f.release <- struct{}{} // export done, import started
				}
				synctest.Wait()
				start := time.Now()
				done := make(chan struct{})
				go func() { s.Shutdown(context.Background()); close(done) }()
				synctest.Wait()
				if err := s.Trigger("p", TriggerManual); !errors.Is(err, ErrStopping) && !errors.Is(err, ErrRunning) {
					t.Errorf("trigger during shutdown = %v, want ErrStopping or ErrRunning", err)
				}
				for i := 0; i < tc.releases; i++ {
					if tc.importAfter >= 0 && i == tc.releases-1 {
						break // the export step was released before Shutdown
					}
					select {
					case f.release <- struct{}{}:
					case <-done:
					}
				}
				<-done
				if got := time.Since(start); got != tc.wantElapsed {
					t.Errorf("shutdown took %v, want %v", got, tc.wantElapsed)
				}
				if diff := cmp.Diff(tc.wantSteps, f.done()); diff != "" {
					t.Errorf("steps done (-want +got):\n%s", diff)
				}
				if len(recs) != 1 || recs[0].Outcome != tc.wantOutcome {
					t.Fatalf("records = %+v, want one with outcome %s", recs, tc.wantOutcome)
				}
				if err := s.Trigger("p", TriggerManual); !errors.Is(err, ErrStopping) {
					t.Errorf("trigger after shutdown = %v, want ErrStopping", err)
				}
			})
		})
	}
}

func TestSchedulerHistoryOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		results := []struct {
			res *Result
			err error
		}{
			{&Result{Outcome: OutcomeNothing}, nil},
			{&Result{Outcome: OutcomeBlocked, Plan: &Plan{Blocked: []string{"preview: 1 error"}}}, &BlockedError{Pipeline: "p", Reasons: []string{"preview: 1 error"}}},
			{&Result{Outcome: OutcomeNothing}, errors.New("export: boom")},
			{nil, nil}, // panics
			{&Result{Outcome: OutcomeImported}, nil},
		}
		i := 0
		run := func(ctx context.Context, name string, h Hooks) (*Result, error) {
			r := results[i]
			i++
			if r.res == nil {
				panic("bad runner")
			}
			return r.res, r.err
		}
		s, err := NewScheduler(schedConfig(&config.Pipeline{Name: "p"}), SchedulerOptions{Run: run, History: 3})
		if err != nil {
			t.Fatal(err)
		}
		for range results {
			if err := s.Trigger("p", TriggerManual); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		runs := s.Status()[0].Runs
		var got []Outcome
		for _, r := range runs {
			got = append(got, r.Outcome)
		}
		if diff := cmp.Diff([]Outcome{OutcomeImported, OutcomeFailed, OutcomeFailed}, got); diff != "" {
			t.Errorf("history outcomes, newest first, 3 kept (-want +got):\n%s", diff)
		}
		if runs[1].Error == "" || runs[0].ID != 5 {
			t.Errorf("panicking run has no error or ids are off: %+v", runs[:2])
		}
		if err := s.Trigger("nope", TriggerManual); !errors.Is(err, ErrUnknownPipeline) {
			t.Errorf("unknown pipeline = %v, want ErrUnknownPipeline", err)
		}
		s.Shutdown(context.Background())
	})
}

func TestSchedulerBlockedRecordKeepsReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := func(ctx context.Context, name string, h Hooks) (*Result, error) {
			return &Result{Outcome: OutcomeBlocked}, &BlockedError{Pipeline: name, Reasons: []string{"drift: SOURCE AD"}}
		}
		var rec RunRecord
		s, _ := NewScheduler(schedConfig(&config.Pipeline{Name: "p"}), SchedulerOptions{Run: run, OnRun: func(r RunRecord) { rec = r }})
		s.Trigger("p", TriggerSchedule)
		synctest.Wait()
		if rec.Outcome != OutcomeBlocked || !cmp.Equal(rec.Blocked, []string{"drift: SOURCE AD"}) {
			t.Errorf("record = %+v, want blocked with the reason", rec)
		}
	})
}

func TestSchedulerRejectsBadSchedule(t *testing.T) {
	for _, spec := range []string{"CRON_TZ=Europe/Berlin", "61 * * * *", "0 0 31 2 *"} {
		_, err := NewScheduler(schedConfig(&config.Pipeline{Name: "p", Schedule: spec}), SchedulerOptions{Run: func(context.Context, string, Hooks) (*Result, error) { return nil, nil }})
		if err == nil {
			t.Errorf("schedule %q accepted", spec)
		}
	}
}

func TestChainHooksCallsEachInOrder(t *testing.T) {
	var got []string
	h := ChainHooks(
		Hooks{Step: func(p, s string, _ time.Duration, _ string) { got = append(got, "1:"+s) }},
		Hooks{},
		Hooks{Step: func(p, s string, _ time.Duration, _ string) { got = append(got, "2:"+s) },
			Done: func(*Result, error) { got = append(got, "done") }},
	)
	h.Step("p", "export", 0, "ok")
	h.Done(nil, nil)
	if h.ImportStarted != nil {
		t.Error("ImportStarted set though no hook had one")
	}
	if diff := cmp.Diff([]string{"1:export", "2:export", "done"}, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
