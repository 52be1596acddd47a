package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"promoter/metrics"
	"promoter/pipeline"
	"promoter/server"
)

func init() {
	register(command{name: "serve", summary: "daemon: cron schedule, manual trigger, /healthz /readyz /metrics and a status page",
		usage: "serve --config FILE [--listen ADDR] [--log-format text|json|auto] [--grace DURATION]", run: runServe})
}

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "serve")
	config := fs.String("config", "", "configuration file (promotion.yaml)")
	listen := fs.String("listen", "", "address to serve HTTP on (default serve.listen of the configuration, \":8080\")")
	logFormat := fs.String("log-format", "", "log format: text, json or auto (default "+envLogFormat+", then log.format, then auto)")
	grace := fs.Duration("grace", 2*time.Minute, "on SIGTERM, how long a running run may go on before it is cancelled")
	history := fs.Int("history", 20, "runs kept per pipeline for the status page")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("serve takes no arguments, got %q", fs.Args())
	}
	if *logFormat != "" && !validLogFormat(*logFormat) {
		return usageError("--log-format %q: use text, json or auto", *logFormat)
	}
	cfg, sec, err := loadConfigFor(env, *config, true)
	if err != nil {
		return err
	}
	ls, problems := logSettingsFor(env, cfg)
	if *logFormat != "" {
		ls.Format = *logFormat
	}
	logger := buildLogger(env.stderr, ls)
	for _, p := range problems {
		logger.Warn("ignoring log setting", "problem", p)
	}
	addr := cfg.Serve.Listen
	if *listen != "" {
		addr = *listen
	}

	var names []string
	for _, p := range cfg.Pipelines {
		names = append(names, p.Name)
	}
	m := metrics.New(names...)
	holds := &holdCache{}
	srv := server.New(server.Options{
		Metrics:      m.Handler(),
		TriggerToken: sec.TriggerToken,
		Holds:        holds.get,
		Logger:       logger,
		Version:      version,
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w (choose another address with --listen or serve.listen)", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "trigger", sec.TriggerToken != "")
	stopHTTP := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("serve: stop http server: %w", err)
		}
		return nil
	}

	store, err := pipeline.OpenStore(ctx, cfg, sec, logger)
	if err != nil {
		stopHTTP()
		return err
	}

	// Runs share one opened repository. gitstore.Repo is not meant for
	// concurrent use, so the daemon lets one run at a time touch it (every
	// run also takes the repository lock, which serialises with `promoter
	// run` in other processes).
	repoSem := make(chan struct{}, 1)
	var ctMu sync.Mutex
	changeTimes := map[string]time.Time{}
	run := func(ctx context.Context, name string, hooks pipeline.Hooks) (*pipeline.Result, error) {
		select {
		case repoSem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the repository: %w", ctx.Err())
		}
		defer func() { <-repoSem }()
		m.Running(name, true)
		defer m.Running(name, false)
		r, err := wireRunner(ctx, env, cfg, sec, name, store, pipeline.Env{Logger: logger, Observer: m.Request})
		if err != nil {
			return nil, err
		}
		r.Hooks = pipeline.ChainHooks(r.Hooks, pipeline.Hooks{Step: m.Step}, hooks)
		res, err := r.Run(ctx, pipeline.RunOptions{})
		if c := metrics.LeadTimeCommit(pipeline.RunRecord{Outcome: outcomeOf(res, err), Result: res, Plan: planOf(res)}); c != "" {
			if h, rerr := store.Resolve(c); rerr == nil {
				if ci, cerr := store.CommitInfo(h); cerr == nil {
					ctMu.Lock()
					changeTimes[name] = ci.When
					ctMu.Unlock()
				}
			}
		}
		holds.refresh(store, names, m, logger)
		return res, err
	}
	sched, err := pipeline.NewScheduler(cfg, pipeline.SchedulerOptions{
		Run:     run,
		Logger:  logger,
		History: *history,
		Grace:   *grace,
		OnSkip:  m.Skipped,
		OnRun: func(rec pipeline.RunRecord) {
			ctMu.Lock()
			t := changeTimes[rec.Pipeline]
			delete(changeTimes, rec.Pipeline)
			ctMu.Unlock()
			m.Run(rec, t)
		},
	})
	if err != nil {
		stopHTTP()
		return &exitError{code: exitUsage, err: err}
	}
	holds.refresh(store, names, m, logger)
	sched.Start()
	srv.SetReady(sched)
	// Holds set by other processes or replicas show up within a minute.
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case repoSem <- struct{}{}:
					holds.refresh(store, names, m, logger)
					<-repoSem
				default: // a run holds the repository; it refreshes the holds when it ends
				}
			}
		}
	}()
	for _, p := range sched.Status() {
		if p.Schedule != "" {
			logger.Info("scheduled", "pipeline", p.Name, "schedule", p.Schedule, "next", p.Next)
		}
	}
	logger.Info("ready", "addr", ln.Addr().String(), "repository", store.Path())

	select {
	case <-ctx.Done():
	case err := <-served:
		sched.Shutdown(context.Background())
		return fmt.Errorf("serve: http server stopped: %w", err)
	}
	logger.Info("shutting down: no new runs", "grace", *grace)
	srv.SetNotReady("shutting down")
	sched.Shutdown(context.Background())
	if err := stopHTTP(); err != nil {
		return err
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func outcomeOf(res *pipeline.Result, err error) pipeline.Outcome {
	if res != nil && res.Outcome == pipeline.OutcomePartial {
		return res.Outcome
	}
	if err != nil || res == nil {
		return pipeline.OutcomeFailed
	}
	return res.Outcome
}

func planOf(res *pipeline.Result) *pipeline.Plan {
	if res == nil {
		return nil
	}
	return res.Plan
}

// holdCache keeps the active holds read from the repository after every run
// and at start, so that the status page never waits for a run to release
// the repository.
type holdCache struct {
	mu    sync.Mutex
	holds []server.Hold
}

func (c *holdCache) get() []server.Hold {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holds
}

// refresh re-reads the holds. It is called with the repository to itself.
func (c *holdCache) refresh(store pipeline.HoldReader, names []string, m *metrics.Metrics, logger *slog.Logger) {
	ph, err := pipeline.Holds(store)
	if err != nil {
		logger.Warn("read holds", "error", err)
		return
	}
	var hs []server.Hold
	per := map[string]int{}
	for _, h := range ph {
		hs = append(hs, server.Hold{Pipeline: h.Pipeline, Reason: h.Reason, By: h.By, Since: h.Since})
		per[h.Pipeline]++
	}
	for _, n := range names {
		m.SetHolds(n, per[n])
	}
	c.mu.Lock()
	c.holds = hs
	c.mu.Unlock()
}
