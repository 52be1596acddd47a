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

// crashEnv names the test hook that makes the process stop itself at a named
// point of a run. It exists only so the reliability tests
// (reliability_test.go) can prove that a crash or a signal at any step
// boundary loses nothing; it is not a feature and users never set it. When
// the variable is unset (always, outside the tests) nothing is installed.
//
// Values:
//
//	after:STEP          SIGKILL right after the named step ends (export, guard,
//	                    snapshot, propose, plan, preview, gate, import, verify,
//	                    record, resume)
//	import-started      SIGKILL once a real import job was accepted and its
//	                    in-flight marker written, before it is polled
//	git:STEP            SIGKILL the first time the repository passes the named
//	                    internal step (gitstore's hit: index-locked,
//	                    objects-written, journal-written, ref-moved,
//	                    worktree-file, worktree-written, ...)
//	term:after:STEP     SIGTERM instead of SIGKILL, then wait until the run's
//	term:import-started context has seen it, so the run goes on exactly as
//	                    it would after an operator's SIGTERM at that point
const crashEnv = "PROMOTER_TEST_CRASH"

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
