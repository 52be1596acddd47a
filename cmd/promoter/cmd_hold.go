package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"time"

	"promoter/config"
	"promoter/gitstore"
	"promoter/pipeline"
)

func init() {
	register(command{name: "hold", summary: "pause imports of a pipeline (stored in the repository); without PIPELINE list holds",
		usage: "hold PIPELINE --reason TEXT --config FILE [--by NAME]\n       promoter hold --config FILE", run: runHold})
}

func runHold(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "hold")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	reason := fs.String("reason", "", "why the pipeline is held (shown in every blocked run)")
	by := fs.String("by", "", "who holds it (default $USER@host)")
	name, err := parsePipelineArgs(fs, args)
	if err != nil {
		return err
	}
	store, cfg, logger, err := openHoldStore(ctx, env, *configFile)
	if err != nil {
		return err
	}
	if name == "" {
		if *reason != "" {
			return usageError("--reason needs a PIPELINE: promoter hold PIPELINE --reason TEXT --config FILE")
		}
		if err := store.Sync(ctx); err != nil {
			return fmt.Errorf("sync repository: %w", err)
		}
		holds, err := pipeline.Holds(store)
		if err != nil {
			return err
		}
		if len(holds) == 0 {
			fmt.Fprintln(env.stdout, "no pipeline is held")
		}
		for _, h := range holds {
			fmt.Fprintf(env.stdout, "%s\theld by %s since %s: %s\n", h.Pipeline, h.By, h.Since.Format(time.RFC3339), h.Reason)
		}
		return nil
	}
	if _, err := cfg.Pipeline(name); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if strings.TrimSpace(*reason) == "" {
		return usageError("--reason TEXT is required: say why %s is held and until when", name)
	}
	who := holder(env, *by)
	if err := pipeline.SetHold(ctx, &waitingLock{store, logger}, name, *reason, who, time.Now()); err != nil {
		return err
	}
	h, err := pipeline.HoldOf(store, name)
	if err != nil || h == nil {
		return fmt.Errorf("hold %s: written but not readable back: %v", name, err)
	}
	fmt.Fprintf(env.stdout, "%s held by %s since %s: %s\nimports are blocked until `promoter release %s`\n", name, h.By, h.Since.Format(time.RFC3339), h.Reason, name)
	return nil
}

// parsePipelineArgs parses flags around one optional positional PIPELINE
// (before or after the flags).
func parsePipelineArgs(fs *flag.FlagSet, args []string) (string, error) {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return "", usageError("unexpected arguments %q; give one PIPELINE", rest)
	}
	return name, nil
}

// openHoldStore opens the repository of a configuration. Holds need only the
// repository's credentials: tenant secrets that are not set are no problem.
func openHoldStore(ctx context.Context, env *environment, path string) (*gitstore.Repo, *config.Config, *slog.Logger, error) {
	if path == "" {
		return nil, nil, nil, usageError("--config FILE is required")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, nil, &exitError{code: exitUsage, err: err}
	}
	sec, err := cfg.ResolveFlowSecrets(env.getenv)
	if err != nil {
		sec = &config.Secrets{}
		switch a := cfg.Repo.Auth; {
		case a.TokenEnv != "":
			sec.GitToken = env.getenv(a.TokenEnv)
		case a.TokenFile != "":
			data, rerr := os.ReadFile(a.TokenFile)
			if rerr == nil {
				sec.GitToken = strings.TrimSpace(string(data))
			}
		}
		if sec.GitToken == "" && (cfg.Repo.Auth.TokenEnv != "" || cfg.Repo.Auth.TokenFile != "") {
			return nil, nil, nil, &exitError{code: exitUsage, err: err}
		}
	}
	logger := newLogger(env)
	store, err := pipeline.OpenStore(ctx, cfg, sec, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return store, cfg, logger, nil
}

// holder names who holds or releases: --by, else $USER@host.
func holder(env *environment, by string) string {
	if by = strings.TrimSpace(by); by != "" {
		return by
	}
	name := env.getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		name += "@" + host
	}
	return name
}

// waitingLock says so when the repository lock is busy (a run in progress)
// before waiting for it.
type waitingLock struct {
	*gitstore.Repo
	log *slog.Logger
}

func (w *waitingLock) Lock(ctx context.Context) (func() error, error) {
	quick, cancel := context.WithTimeout(ctx, time.Second)
	unlock, err := w.Repo.Lock(quick)
	cancel()
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return unlock, err
	}
	w.log.Info("the repository is locked by a running flow; waiting for it (the hold applies from the next gate on)", "error", err)
	return w.Repo.Lock(ctx)
}
