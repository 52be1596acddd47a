package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"promoter/config"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// This file owns the daemon's scheduling (`promoter serve`): the cron
// schedule of every pipeline, manual triggers, skip-if-still-running per
// pipeline, an in-memory history of recent runs, and graceful shutdown. It
// does not build runners (the caller's RunFunc does, fresh for every run) and
// knows nothing about HTTP or metrics.

// OutcomeFailed is the outcome the scheduler records for a flow that ended
// with an error other than a gate block.
const OutcomeFailed Outcome = "failed"

// Triggers of a run.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// Errors of Scheduler.Trigger.
var (
	ErrRunning         = errors.New("pipeline is already running")
	ErrStopping        = errors.New("the daemon is shutting down and starts no new runs")
	ErrUnknownPipeline = errors.New("no such pipeline")
)

// RunFunc runs one pipeline once. It must build a fresh Runner, set hooks
// on it (chained with its own, see ChainHooks) and call Runner.Run: the
// scheduler uses Step and ImportStarted to stop a run at a step boundary on
// shutdown.
type RunFunc func(ctx context.Context, pipeline string, hooks Hooks) (*Result, error)

// SchedulerOptions configure NewScheduler.
type SchedulerOptions struct {
	Run    RunFunc // required
	Logger *slog.Logger
	// Now is the clock of the history and of next-run times (default time.Now).
	// The cron loop itself runs on the real clock.
	Now func() time.Time
	// History is how many runs are kept per pipeline (default 20).
	History int
	// Grace is how long a run may continue after Shutdown began before its
	// context is cancelled (default 2m).
	Grace time.Duration
	// OnSkip is called when a scheduled run is skipped because the previous
	// run of that pipeline is still going.
	OnSkip func(pipeline string)
	// OnRun is called after every run with its record.
	OnRun func(RunRecord)
}

// RunRecord is one finished (or running) run kept in the history.
type RunRecord struct {
	ID       int64
	Pipeline string
	Trigger  string // schedule | manual
	Started  time.Time
	Finished time.Time // zero while running
	Outcome  Outcome
	Error    string // the flow's error (blocked reasons included)
	Steps    []StepResult
	Blocked  []string
	Plan     *Plan
	Result   *Result
}

// Duration is how long the run took (zero while running).
func (r RunRecord) Duration() time.Duration {
	if r.Finished.IsZero() {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// PipelineStatus is a pipeline's schedule and recent runs.
type PipelineStatus struct {
	Name, Source, Target, Mode string
	Schedule                   string    // "" when only manual
	Next                       time.Time // next scheduled run; zero when unscheduled or stopping
	Running                    *RunRecord
	// DenyWindow is the deny window open now ("" when none) and DenyUntil
	// when it closes.
	DenyWindow string
	DenyUntil  time.Time
	Runs       []RunRecord // newest first
}

type pipelineState struct {
	cfg     *config.Pipeline
	sched   cron.Schedule
	running *activeRun
	runs    []RunRecord // newest first
}

type activeRun struct {
	rec           RunRecord
	cancel        context.CancelFunc
	importStarted bool
	stop          bool // stop at the next step boundary
	done          chan struct{}
}

// Scheduler runs pipelines on their schedules and on demand, never two runs
// of one pipeline at once.
type Scheduler struct {
	cfg   *config.Config
	o     SchedulerOptions
	order []string
	cron  *cron.Cron

	mu       sync.Mutex
	states   map[string]*pipelineState
	stopping bool
	nextID   int64
	wg       sync.WaitGroup
}

// NewScheduler prepares the schedule of every pipeline of cfg.
func NewScheduler(cfg *config.Config, o SchedulerOptions) (*Scheduler, error) {
	if o.Run == nil {
		return nil, errors.New("new scheduler: SchedulerOptions.Run is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.History <= 0 {
		o.History = 20
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Minute
	}
	s := &Scheduler{cfg: cfg, o: o, states: map[string]*pipelineState{}, cron: cron.New()}
	for _, p := range cfg.Pipelines {
		st := &pipelineState{cfg: p}
		if p.Schedule != "" {
			sched, err := config.ParseCron(p.Schedule)
			if err != nil {
				return nil, fmt.Errorf("pipeline %s: schedule %q: %w; %s", p.Name, p.Schedule, err, config.CronHelp)
			}
			st.sched = sched
			name := p.Name
			s.cron.Schedule(sched, cron.FuncJob(func() { s.fire(name) }))
		}
		s.states[p.Name] = st
		s.order = append(s.order, p.Name)
	}
	return s, nil
}

// Start starts the cron loop. Manual triggers work without it.
func (s *Scheduler) Start() { s.cron.Start() }

func (s *Scheduler) fire(name string) {
	err := s.Trigger(name, TriggerSchedule)
	switch {
	case errors.Is(err, ErrRunning):
		s.o.Logger.Warn("scheduled run skipped: the previous run is still going", "pipeline", name)
		if s.o.OnSkip != nil {
			s.o.OnSkip(name)
		}
	case err != nil:
		s.o.Logger.Info("scheduled run not started", "pipeline", name, "reason", err)
	}
}

// Trigger starts a run of the named pipeline in the background. It returns
// ErrUnknownPipeline, ErrRunning when that pipeline runs already, or
// ErrStopping during shutdown.
func (s *Scheduler) Trigger(name, trigger string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[name]
	if !ok {
		return fmt.Errorf("pipeline %q: %w (configured: %v)", name, ErrUnknownPipeline, s.order)
	}
	if s.stopping {
		return ErrStopping
	}
	if st.running != nil {
		return fmt.Errorf("pipeline %s: %w since %s (%s run)", name, ErrRunning, st.running.rec.Started.Format(time.RFC3339), st.running.rec.Trigger)
	}
	s.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	ar := &activeRun{
		rec:    RunRecord{ID: s.nextID, Pipeline: name, Trigger: trigger, Started: s.o.Now()},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	st.running = ar
	s.wg.Add(1)
	go s.execute(ctx, st, ar)
	return nil
}

func (s *Scheduler) execute(ctx context.Context, st *pipelineState, ar *activeRun) {
	defer s.wg.Done()
	defer close(ar.done)
	defer ar.cancel()
	name := ar.rec.Pipeline
	s.o.Logger.Info("run started", "pipeline", name, "trigger", ar.rec.Trigger, "run", ar.rec.ID)
	hooks := Hooks{
		Step: func(_, step string, _ time.Duration, _ string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if ar.stop && !ar.importStarted {
				s.o.Logger.Info("shutting down: stopping the run after its current step", "pipeline", name, "step", step)
				ar.cancel()
			}
		},
		ImportStarted: func(string, string) {
			s.mu.Lock()
			ar.importStarted = true
			s.mu.Unlock()
		},
	}
	res, err := s.safeRun(ctx, name, hooks)
	rec := s.finish(st, ar, res, err)
	attrs := []any{"pipeline", name, "trigger", rec.Trigger, "run", rec.ID, "outcome", rec.Outcome, "duration", rec.Duration().Round(time.Millisecond)}
	if err != nil && rec.Outcome == OutcomeFailed {
		s.o.Logger.Error("run failed", append(attrs, "error", err)...)
	} else {
		s.o.Logger.Info("run finished", attrs...)
	}
	if s.o.OnRun != nil {
		s.o.OnRun(rec)
	}
}

// safeRun calls the RunFunc, turning a panic into an error so that one bad
// run cannot take the daemon down.
func (s *Scheduler) safeRun(ctx context.Context, name string, hooks Hooks) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("run %s: panic: %v", name, p)
		}
	}()
	return s.o.Run(ctx, name, hooks)
}

func (s *Scheduler) finish(st *pipelineState, ar *activeRun, res *Result, err error) RunRecord {
	rec := ar.rec
	rec.Finished = s.o.Now()
	rec.Result = res
	rec.Outcome = OutcomeNothing
	if res != nil {
		rec.Outcome = res.Outcome
		rec.Steps = slices.Clone(res.Steps)
		rec.Plan = res.Plan
		if res.Plan != nil {
			rec.Blocked = slices.Clone(res.Plan.Blocked)
		}
	}
	if err != nil {
		rec.Error = err.Error()
		var b *BlockedError
		if errors.As(err, &b) {
			rec.Outcome = OutcomeBlocked
			if len(rec.Blocked) == 0 {
				rec.Blocked = slices.Clone(b.Reasons)
			}
		} else if rec.Outcome != OutcomePartial {
			rec.Outcome = OutcomeFailed
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.running = nil
	st.runs = append([]RunRecord{rec}, st.runs...)
	if len(st.runs) > s.o.History {
		st.runs = st.runs[:s.o.History]
	}
	return rec
}

// Shutdown stops the schedule and refuses new runs, asks running runs to
// stop after their current step (a run whose real import has started goes
// on to record it), cancels them when the grace period passes or ctx ends,
// and returns once every run has returned.
func (s *Scheduler) Shutdown(ctx context.Context) {
	s.cron.Stop()
	s.mu.Lock()
	s.stopping = true
	var running []*activeRun
	for _, st := range s.states {
		if st.running != nil {
			st.running.stop = true
			running = append(running, st.running)
		}
	}
	s.mu.Unlock()
	all := make(chan struct{})
	go func() { s.wg.Wait(); close(all) }()
	if len(running) > 0 {
		s.o.Logger.Info("shutting down: waiting for running runs", "runs", len(running), "grace", s.o.Grace)
	}
	t := time.NewTimer(s.o.Grace)
	defer t.Stop()
	select {
	case <-all:
		return
	case <-t.C:
		s.o.Logger.Warn("shutting down: grace period over, cancelling running runs", "grace", s.o.Grace)
	case <-ctx.Done():
		s.o.Logger.Warn("shutting down: cancelling running runs", "cause", ctx.Err())
	}
	for _, ar := range running {
		ar.cancel()
	}
	<-all
}

// Running reports whether the named pipeline has a run in progress.
func (s *Scheduler) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[name]
	return ok && st.running != nil
}

// Status returns every pipeline's schedule, running run and history, in
// configuration order.
func (s *Scheduler) Status() []PipelineStatus {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PipelineStatus, 0, len(s.order))
	for _, name := range s.order {
		st := s.states[name]
		ps := PipelineStatus{
			Name: name, Source: st.cfg.Source, Target: st.cfg.Target, Mode: st.cfg.Mode,
			Schedule: st.cfg.Schedule, Runs: slices.Clone(st.runs),
		}
		if st.sched != nil && !s.stopping {
			ps.Next = st.sched.Next(now)
		}
		if st.running != nil {
			r := st.running.rec
			ps.Running = &r
		}
		if w, closes, open := st.cfg.Gate.OpenDenyWindow(now); open {
			ps.DenyWindow = fmt.Sprintf("%s for %s", w.Cron, w.Duration.Duration)
			ps.DenyUntil = closes
		}
		out = append(out, ps)
	}
	return out
}

// ChainHooks returns hooks that call each of hs in order.
func ChainHooks(hs ...Hooks) Hooks {
	var out Hooks
	for _, h := range hs {
		if f, prev := h.Step, out.Step; f != nil {
			out.Step = func(p, s string, d time.Duration, o string) {
				if prev != nil {
					prev(p, s, d, o)
				}
				f(p, s, d, o)
			}
		}
		if f, prev := h.ImportStarted, out.ImportStarted; f != nil {
			out.ImportStarted = func(p, j string) {
				if prev != nil {
					prev(p, j)
				}
				f(p, j)
			}
		}
		if f, prev := h.Done, out.Done; f != nil {
			out.Done = func(r *Result, err error) {
				if prev != nil {
					prev(r, err)
				}
				f(r, err)
			}
		}
	}
	return out
}
