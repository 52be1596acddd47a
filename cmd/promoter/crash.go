//go:build crashtest

package main

import (
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"promoter/pipeline"
)

// The crash hook is compiled only with the build tag crashtest, which the
// end-to-end tests set when they build the binary (e2e_test.go); a release
// build has none (crash_off.go) and ignores PROMOTER_TEST_CRASH.

// installCrashPoint wires the crashEnv test hook into r's hooks, keeping any
// hooks already set. ctx is the run's context (cancelled by SIGTERM).
func installCrashPoint(ctx context.Context, getenv func(string) string, r *pipeline.Runner) {
	spec := strings.TrimSpace(getenv(crashEnv))
	if spec == "" {
		return
	}
	sig := syscall.SIGKILL
	if rest, ok := strings.CutPrefix(spec, "term:"); ok {
		sig, spec = syscall.SIGTERM, rest
	}
	stop := func() {
		_ = syscall.Kill(os.Getpid(), sig)
		if sig == syscall.SIGKILL {
			select {} // never returns: the kernel ends the process
		}
		// Wait (bounded) until main's signal context is cancelled, so the
		// next step boundary sees it deterministically.
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	if step, ok := strings.CutPrefix(spec, "after:"); ok {
		prev := r.Hooks.Step
		r.Hooks.Step = func(p, name string, d time.Duration, outcome string) {
			if prev != nil {
				prev(p, name, d, outcome)
			}
			if name == step {
				stop()
			}
		}
		return
	}
	if step, ok := strings.CutPrefix(spec, "git:"); ok {
		if s, ok := r.Store.(interface{ SetStepHook(func(string)) }); ok {
			var once sync.Once
			s.SetStepHook(func(name string) {
				if name == step {
					once.Do(stop)
				}
			})
		}
		return
	}
	if spec == "import-started" {
		prev := r.Hooks.ImportStarted
		r.Hooks.ImportStarted = func(p, job string) {
			if prev != nil {
				prev(p, job)
			}
			stop()
		}
	}
}
