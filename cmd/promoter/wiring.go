package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"promoter/config"
	"promoter/forge"
	"promoter/notify"
	"promoter/pipeline"
)

// newLogger returns the process logger on stderr. The format is
// PROMOTER_LOG_FORMAT, else log.format of cfg (when given), else auto: text
// on a terminal, JSON otherwise; the level PROMOTER_LOG_LEVEL, else
// log.level, else info (see logging.go).
func newLogger(env *environment, cfg ...*config.Config) *slog.Logger {
	var c *config.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	s, problems := logSettingsFor(env, c)
	l := buildLogger(env.stderr, s)
	for _, p := range problems {
		l.Warn("ignoring log setting", "problem", p)
	}
	return l
}

// loadConfig loads and validates the configuration and resolves its secrets;
// every problem is a usage error (exit 2).
func loadConfig(env *environment, path string) (*config.Config, *config.Secrets, error) {
	return loadConfigFor(env, path, false)
}

// loadConfigFor is loadConfig; serve also resolves the daemon's own secrets
// (the manual trigger token), which the other commands do not need set.
func loadConfigFor(env *environment, path string, serve bool) (*config.Config, *config.Secrets, error) {
	if path == "" {
		return nil, nil, usageError("--config FILE is required")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	resolve := cfg.ResolveFlowSecrets
	if serve {
		resolve = cfg.ResolveSecrets
	}
	sec, err := resolve(env.getenv)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	return cfg, sec, nil
}

// openRunner loads the configuration and wires the named pipeline ("" when
// the configuration has only one).
func openRunner(ctx context.Context, env *environment, configPath, name string) (*pipeline.Runner, error) {
	var runner *pipeline.Runner
	err := eachRunner(ctx, env, configPath, name, false, func(r *pipeline.Runner) error {
		runner = r
		return nil
	})
	return runner, err
}

// eachRunner loads the configuration once and calls fn with the runner of
// the named pipeline or, when name is "" and all is set, of every pipeline in
// the order of the file. A pipeline's failure does not stop the others; the
// result is exit 1 when any failed, else exit 2 when any was refused as a
// usage error (a bad --rev), else exit 3 when any was blocked.
func eachRunner(ctx context.Context, env *environment, configPath, name string, all bool, fn func(*pipeline.Runner) error) error {
	cfg, sec, err := loadConfig(env, configPath)
	if err != nil {
		return err
	}
	var names []string
	if name == "" && all {
		for _, p := range cfg.Pipelines {
			names = append(names, p.Name)
		}
	} else {
		p, err := cfg.Pipeline(name)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		names = []string{p.Name}
	}
	logger := newLogger(env, cfg)
	store, err := pipeline.OpenStore(ctx, cfg, sec, logger)
	if err != nil {
		return err
	}
	var failed, usage, blocked []error
	for _, n := range names {
		if ctx.Err() != nil {
			failed = append(failed, fmt.Errorf("pipeline %s not run: %w", n, context.Cause(ctx)))
			continue
		}
		r, err := wireRunner(ctx, env, cfg, sec, n, store, pipeline.Env{Logger: logger})
		if err != nil {
			return err
		}
		switch err := fn(r); {
		case err == nil:
		case pipeline.IsBlocked(err):
			blocked = append(blocked, err)
		default:
			var ee *exitError
			switch {
			case errors.As(err, &ee) && len(names) == 1:
				return err
			case errors.As(err, &ee) && ee.code == exitUsage:
				usage = append(usage, err) // the same bad --rev for every pipeline
			default:
				failed = append(failed, err)
			}
		}
	}
	switch {
	case len(failed) > 0:
		return &exitError{code: exitRuntime, err: errors.Join(append(append(failed, usage...), blocked...)...)}
	case len(usage) > 0:
		return &exitError{code: exitUsage, err: errors.Join(append(usage, blocked...)...)}
	case len(blocked) > 0:
		return &exitError{code: exitBlocked, err: errors.Join(blocked...)}
	}
	return nil
}

// wireRunner builds the runner of one pipeline with everything a command or
// the daemon adds around it: the forge client in pull-request mode,
// notifications, progress on long polls, and the test crash point.
func wireRunner(ctx context.Context, env *environment, cfg *config.Config, sec *config.Secrets, name string, store pipeline.Store, penv pipeline.Env) (*pipeline.Runner, error) {
	r, err := pipeline.NewRunner(cfg, sec, name, store, penv)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if r.Pipeline.Mode == config.ModePullRequest {
		c, err := forge.New(r.Pipeline.PullRequest, sec.PullRequestTokens[r.Pipeline.Name], forge.Options{Logger: penv.Logger})
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		if c != nil { // provider none: the branch is only pushed
			r.PullRequests = pullRequests{c}
		}
	}
	if n := notify.New(cfg, sec, penv.Logger); n != nil {
		r.Hooks.Done = n.Hook(ctx)
	}
	r.Wait.OnPoll = pollProgress(env, r.Pipeline.Name)
	installCrashPoint(ctx, env.getenv, r) // test hook, see crash.go
	return r, nil
}

// flowError maps a flow's error to the exit codes: blocked is 3.
func flowError(err error) error {
	if err == nil {
		return nil
	}
	var b *pipeline.BlockedError
	if errors.As(err, &b) {
		return &exitError{code: exitBlocked, err: err}
	}
	var u *pipeline.UsageError
	if errors.As(err, &u) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

// pullRequests gives the pipeline a forge client: it implements
// pipeline.PullRequester and pipeline.PullRequestStater, and keeps forge
// free of pipeline's types (forge depends on config only).
type pullRequests struct{ c forge.Client }

func (p pullRequests) OpenOrUpdate(ctx context.Context, pr pipeline.PullRequest) (string, error) {
	return p.c.OpenOrUpdate(ctx, forge.Request{Pipeline: pr.Pipeline, Branch: pr.Branch, Base: pr.Base, Title: pr.Title, Body: pr.Body})
}

func (p pullRequests) LastState(ctx context.Context, branch string) (string, error) {
	st, err := p.c.LastState(ctx, branch)
	switch st {
	case forge.StateOpen:
		return pipeline.PullRequestOpen, err
	case forge.StateMerged:
		return pipeline.PullRequestMerged, err
	case forge.StateClosed:
		return pipeline.PullRequestClosed, err
	case "":
		return "", err
	}
	return "", fmt.Errorf("forge reported pull request state %q, which promoter does not know", st)
}
