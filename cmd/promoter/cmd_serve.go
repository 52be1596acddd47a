package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
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
	cfg, sec, err := loadConfigFor(env, *configFile, true)
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
	holds := &pipeline.HoldWatch{Logger: logger, OnRefresh: func(hs []pipeline.Hold) { m.SetHoldCounts(names, hs) }}
	srv := server.New(server.Options{
		Metrics:      m.Handler(),
		TriggerToken: sec.TriggerToken,
		Holds:        holds.Holds,
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

	// Runs share one opened repository, one run at a time.
	slot := pipeline.NewRunSlot()
	leadTimes := &metrics.LeadTimes{}
	run := func(ctx context.Context, name string, hooks pipeline.Hooks) (*pipeline.Result, error) {
		if err := slot.Acquire(ctx); err != nil {
			return nil, err
		}
		defer slot.Release()
		m.Running(name, true)
		defer m.Running(name, false)
		r, err := wireRunner(ctx, env, cfg, sec, name, store, pipeline.Env{Logger: logger, Observer: m.Request})
		if err != nil {
			return nil, err
		}
		r.Hooks = pipeline.ChainHooks(r.Hooks, pipeline.Hooks{Step: m.Step}, hooks)
		res, err := r.Run(ctx, pipeline.RunOptions{})
		leadTimes.Observe(store, name, res, err)
		holds.Refresh(store)
		return res, err
	}
	sched, err := pipeline.NewScheduler(cfg, pipeline.SchedulerOptions{
		Run:     run,
		Logger:  logger,
		History: *history,
		Grace:   *grace,
		OnSkip:  m.Skipped,
		OnRun:   func(rec pipeline.RunRecord) { m.Run(rec, leadTimes.Take(rec.Pipeline)) },
	})
	if err != nil {
		stopHTTP()
		return &exitError{code: exitUsage, err: err}
	}
	holds.Refresh(store)
	sched.Start()
	srv.SetReady(sched)
	// Holds set by other processes or replicas show up within a minute.
	go holds.Watch(ctx, store, slot, time.Minute)
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
