package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The tests of this file (issue 19) kill the real binary inside a working
// tree update, at the gitstore steps named by PROMOTER_TEST_CRASH=git:STEP,
// and run git tools beside it, as an IDE or a git-aware prompt does.

// TestReliabilityKillInsideTheWorkingTreeUpdateLosesNothing kills the run
// while it holds git's index lock, after the branch moved, while a working
// file is half written and just before the index is written: the next run
// removes what the killed one left (its index lock, a temporary file),
// completes the update, and promotes once; no file is left cut or dirty.
func TestReliabilityKillInsideTheWorkingTreeUpdateLosesNothing(t *testing.T) {
	t.Parallel()
	points := map[string]string{
		"git:index-locked":     "removed git's index lock that an interrupted promoter left",
		"git:ref-moved":        "completing the working tree update of an interrupted commit",
		"git:worktree-file":    "completing the working tree update of an interrupted commit",
		"git:worktree-written": "completing the working tree update of an interrupted commit",
	}
	for point, logged := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{})
			r := w.exec([]string{crashEnv + "=" + point}, "run", "--config", w.cfg)
			if r.signal != syscall.SIGKILL {
				t.Fatalf("crash point %s was not reached: %s", point, r)
			}
			r = w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitOK {
				t.Fatalf("run after SIGKILL at %s: %s", point, r)
			}
			if !strings.Contains(r.stderr, logged) {
				t.Errorf("the run after SIGKILL at %s does not log %q:\n%s", point, logged, r.stderr)
			}
			w.intact()
			if _, err := os.Stat(filepath.Join(w.repo, ".git", "index.lock")); err == nil {
				t.Errorf("index.lock is left")
			}
			if n := w.realImports(); n != 1 {
				t.Errorf("real imports = %d, want 1", n)
			}
			w.snapshotsWhole(w.devScope())
			w.prodMatchesDev()
		})
	}
}

// TestReliabilityGitCommitInTheCrashWindowCannotRevertASnapshot kills the
// run right after the branch moved to a new snapshot, before the working
// tree and index follow, and then runs the user's `git commit`: git must
// refuse (promoter's index lock is still there) instead of committing the
// old index, which would silently revert the snapshot. The next run
// completes the update.
func TestReliabilityGitCommitInTheCrashWindowCannotRevertASnapshot(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	r := w.exec([]string{crashEnv + "=git:ref-moved"}, "run", "--config", w.cfg)
	if r.signal != syscall.SIGKILL {
		t.Fatalf("crash point was not reached: %s", r)
	}
	head := w.head()
	cmd := exec.Command("git", "commit", "-q", "--allow-empty", "-m", "a user's commit")
	cmd.Dir = w.repo
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=u", "GIT_AUTHOR_EMAIL=u@example.com", "GIT_COMMITTER_NAME=u", "GIT_COMMITTER_EMAIL=u@example.com")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("git commit in the crash window succeeded; files of %s in the new commit: %d\n%s", head[:12],
			strings.Count(w.git("ls-tree", "-r", "--name-only", "HEAD")+"\n", "\n")-1, out)
	} else if !strings.Contains(string(out), "index.lock") {
		t.Errorf("git commit failed without naming index.lock: %v\n%s", err, out)
	}
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.intact()
	w.snapshotsWhole(w.devScope())
	if n := w.realImports(); n != 1 {
		t.Errorf("real imports = %d, want 1", n)
	}
	w.prodMatchesDev()
}

// TestReliabilityGitStatusLoopBesideRuns runs `git status` in three tight
// loops (IDEs, a git-aware prompt) beside a first promotion and a change: both
// runs succeed (promoter waits its turn for git's index lock) and leave the
// working tree equal to HEAD.
func TestReliabilityGitStatusLoopBesideRuns(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	var statuses atomic.Int64
	const loops = 3
	done := make(chan struct{}, loops)
	for range loops {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				if _, err := os.Stat(filepath.Join(w.repo, ".git")); err != nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				cmd := exec.CommandContext(ctx, "git", "status", "--porcelain")
				cmd.Dir = w.repo
				if cmd.Run() == nil {
					statuses.Add(1)
				}
			}
		}()
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range loops {
			<-done
		}
	}
	defer stop()
	if r := w.exec(nil, "run", "--config", w.cfg); r.code != exitOK {
		t.Fatalf("first run beside a git status loop: %s", r)
	}
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	if r := w.exec(nil, "run", "--config", w.cfg); r.code != exitOK {
		t.Fatalf("second run beside a git status loop: %s", r)
	}
	stop()
	if n := statuses.Load(); n < 10 {
		t.Fatalf("only %d git status runs beside promoter: the test proves nothing", n)
	}
	w.intact()
	if n := w.realImports(); n != 2 {
		t.Errorf("real imports = %d, want 2", n)
	}
	w.prodMatchesDev()
}

// TestReliabilityServeCompletesAnInterruptedUpdateBeforeARun kills a
// `promoter run` inside its working tree update while `promoter serve` is
// up on the same repository: the daemon's next run completes the update
// first, exactly as a new CLI process would, and leaves no journal behind.
func TestReliabilityServeCompletesAnInterruptedUpdateBeforeARun(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "serve:\n  triggerTokenEnv: E2E_TRIGGER_TOKEN\n")
	w.raceChildren() // the daemon beside a CLI run on one repository
	const token = "e2e-trigger-token"
	w.env = append(w.env, "E2E_TRIGGER_TOKEN="+token)
	w.prod.AddIdentity("Imogene Mendez")
	d := w.startServe()
	waitReady(t, d.url+"/readyz")
	r := w.exec([]string{crashEnv + "=git:worktree-file"}, "run", "--config", w.cfg)
	if r.signal != syscall.SIGKILL {
		t.Fatalf("crash point was not reached: %s", r)
	}
	if code, body := d.trigger("dev-to-prod", token); code != 202 {
		t.Fatalf("trigger = %d %s, want 202", code, body)
	}
	if got := d.waitRuns("dev-to-prod", 1); got != "imported" {
		t.Fatalf("daemon run outcome = %q, want imported\n%s", got, d.log())
	}
	if !strings.Contains(d.log(), "completing the working tree update of an interrupted commit") {
		t.Errorf("the daemon did not complete the interrupted update:\n%s", d.log())
	}
	if _, err := os.Stat(filepath.Join(w.repo, ".git", "promoter-checkout.json")); err == nil {
		t.Errorf("the checkout journal is left")
	}
	w.intact()
	if code := d.stop(); code != 0 {
		t.Errorf("serve exit = %d", code)
	}
}
