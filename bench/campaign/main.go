// Command campaign runs a bounded fault campaign against the real promoter
// binary (issue 19) and prints its figures: SIGKILL at every crash-hook
// point and at seeded random times, fault trials with the fake tenant's
// fault injection, and worlds whose preview always has errors, each in a
// fresh repository beside a person's uncommitted work, with credentials
// planted in the configuration's variables, the webhook URL and a SOURCE.
// After every kill it runs git fsck --strict; after every trial it counts
// double imports, imports after a dirty preview, lost user edits, dirty
// working trees, fsck failures and leaked secrets.
//
//	go run ./bench/campaign                      # about 2 minutes on 2 cores
//	go run ./bench/campaign -seed 7 -random-kills 40 -fault-rounds 3
//
// It builds cmd/promoter with -tags crashtest (the PROMOTER_TEST_CRASH hook)
// and serves the fake tenants (spconfig/spconfigtest) and the webhook on
// 127.0.0.1. It owns no production code; every loop is bounded by a flag.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"promoter/spconfig"
)

// crashPoints are the PROMOTER_TEST_CRASH values (cmd/promoter/crashenv.go):
// every step boundary of a run and every internal step of a commit.
var crashPoints = []string{
	"after:export", "after:guard", "after:snapshot", "after:propose", "after:plan", "after:preview",
	"after:gate", "import-started", "after:import", "after:verify", "after:record",
	"git:index-locked", "git:objects-written", "git:pack-encoded", "git:journal-written",
	"git:ref-moved", "git:worktree-file", "git:worktree-progress", "git:worktree-written",
	"git:ref-locked:refs/heads/main", "git:ref-locked:refs/promoter/offered/dev-to-prod",
	"git:ref-locked:refs/promoter/observed/prod", "git:ref-locked:refs/notes/promoter",
	"git:ref-locked:refs/promoter/applied/prod", "git:ref-set:refs/notes/promoter", "git:ref-set:refs/promoter/applied/prod",
}

// faultSpecs are the fake tenant's fault injections (DESIGN section 8).
var faultSpecs = []string{
	"429=0.2", "500=0.15", "503=0.2", "fail-export=1", "fail-import=1", "truncate-download=0.5",
	"slow-download=1s", "reject-object=TRANSFORM:Get Worker Type", "429=0.1,500=0.1,truncate-download=0.3",
}

// remotePoints are the kills tried in worlds with a remote: before and
// after the push that ends a flow, and inside the snapshot commit.
var remotePoints = []string{"after:snapshot", "after:record", "git:ref-moved", "git:ref-set:refs/promoter/applied/prod"}

// dirtyPoints are the kills tried where every preview has errors.
var dirtyPoints = []string{"after:preview", "after:gate", "git:ref-moved"}

type options struct {
	seed        uint64
	randomKills int
	faultRounds int
	points      []string
	faults      []string
	dirty       bool
	gitStatus   int
	remoteKills int
	timeout     time.Duration
	keep        bool
	bin         string
	verbose     bool
}

func main() {
	var o options
	var points, faults string
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the random kill times, the fakes' fault rolls and the planted secrets")
	flag.IntVar(&o.randomKills, "random-kills", 30, "trials with a SIGKILL at a random time in each of two runs")
	flag.IntVar(&o.faultRounds, "fault-rounds", 2, "how many times each fault spec is tried")
	flag.StringVar(&points, "points", strings.Join(crashPoints, ","), "crash-hook points to kill at (comma list; empty for none)")
	flag.StringVar(&faults, "faults", strings.Join(faultSpecs, ";"), "fault specs to try (semicolon list; empty for none)")
	flag.IntVar(&o.remoteKills, "remote-kills", 8, "trials with a remote and a SIGKILL at a random time in each of two runs")
	flag.IntVar(&o.gitStatus, "git-status", 4, "trials with a git status loop beside both runs")
	flag.BoolVar(&o.dirty, "dirty", true, "also run the worlds whose previews always have errors")
	flag.DurationVar(&o.timeout, "timeout", 90*time.Second, "bound on one promoter run")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder")
	flag.StringVar(&o.bin, "bin", "", "a promoter binary built with -tags crashtest (default: build one)")
	flag.BoolVar(&o.verbose, "v", false, "print one line per trial")
	flag.Parse()
	o.points = split(points, ",")
	o.faults = split(faults, ";")
	if o.randomKills < 0 || o.randomKills > 1000 || o.faultRounds < 0 || o.faultRounds > 100 || o.gitStatus < 0 || o.gitStatus > 100 || o.remoteKills < 0 || o.remoteKills > 1000 {
		fmt.Fprintln(os.Stderr, "campaign: -random-kills and -remote-kills must be 0-1000, -fault-rounds and -git-status 0-100")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "campaign:", err)
		os.Exit(1)
	}
}

func split(s, sep string) []string {
	var out []string
	for part := range strings.SplitSeq(s, sep) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// figures are the campaign's counts; the first block says how much was
// tried, the second what broke (all zero when every promise holds).
type figures struct {
	trials, runs             int
	pointKills, pointTries   int
	notReached               []string
	randomKills, randomTries int
	faultTrials, faultRuns   int
	dirtyTrials              int
	fscks                    int
	doubleImports            int
	dirtyImports             int
	unpreviewed              int
	lostEdits                int
	dirtyTrees               int
	fsckFailures             int
	leaks                    int
	recoveryFailures         int
	unfinished               int
	recordMismatches         int
	markersLeft              int
	operatorSteps, resumes   int
	gitStatusRuns            int
	planted                  int
	remoteTrials             int
	remoteDiffers            int
	hung                     int
	problems                 []string
	start                    time.Time
	commit, machine          string
}

func (f *figures) problem(trial, format string, args ...any) {
	f.problems = append(f.problems, trial+": "+fmt.Sprintf(format, args...))
}

func run(o options) error {
	f := &figures{start: time.Now()}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	f.commit = commitOf(root)
	f.machine = machine()
	work, err := os.MkdirTemp("", "promoter-campaign-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "campaign: keeping", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(work, "promoter")
		fmt.Fprintln(os.Stderr, "campaign: building promoter with -tags crashtest")
		cmd := exec.Command("go", "build", "-tags", "crashtest", "-o", bin, "./cmd/promoter")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build promoter: %v\n%s", err, out)
		}
	}
	rng := rand.New(rand.NewPCG(o.seed, 19))
	c := &campaign{o: o, f: f, bin: bin, work: work, rng: rng}

	// How long do the two runs of a trial take? Random kills land within.
	d1, d2, err := c.calibrate()
	if err != nil {
		return fmt.Errorf("calibration run: %w", err)
	}
	fmt.Fprintf(os.Stderr, "campaign: a first run takes %s, a later one %s\n", d1.Round(time.Millisecond), d2.Round(time.Millisecond))

	for _, p := range o.points {
		c.trial("kill "+p, kind{}, func(w *world, phase int) step { return step{crash: p} })
	}
	for i := range o.randomKills {
		at := [3]time.Duration{0, randDur(rng, d1), randDur(rng, d2)}
		c.trial(fmt.Sprintf("random kill %d (%s, %s)", i+1, at[1].Round(time.Millisecond), at[2].Round(time.Millisecond)), kind{},
			func(w *world, phase int) step { return step{killAfter: at[phase]} })
	}
	for round := range o.faultRounds {
		for _, spec := range o.faults {
			c.trial(fmt.Sprintf("faults %s (round %d)", spec, round+1), kind{}, func(w *world, phase int) step { return step{faults: spec} })
		}
	}
	for _, p := range remotePoints {
		c.trial("remote, kill "+p, kind{remote: true}, func(w *world, phase int) step { return step{crash: p} })
	}
	for i := range o.remoteKills {
		at := [3]time.Duration{0, randDur(rng, d1), randDur(rng, d2)}
		c.trial(fmt.Sprintf("remote, random kill %d (%s, %s)", i+1, at[1].Round(time.Millisecond), at[2].Round(time.Millisecond)), kind{remote: true},
			func(w *world, phase int) step { return step{killAfter: at[phase]} })
	}
	for i := range o.gitStatus {
		c.trial(fmt.Sprintf("git status loop beside the runs %d", i+1), kind{}, func(w *world, phase int) step { return step{gitStatus: true} })
	}
	if o.dirty {
		for _, p := range dirtyPoints {
			c.trial("dirty preview, kill "+p, kind{dirty: true}, func(w *world, phase int) step { return step{crash: p} })
		}
		at := [3]time.Duration{0, randDur(rng, d1), randDur(rng, d2)}
		c.trial("dirty preview, random kill", kind{dirty: true}, func(w *world, phase int) step { return step{killAfter: at[phase]} })
		c.trial("dirty preview, faults 500=0.2", kind{dirty: true}, func(w *world, phase int) step { return step{faults: "500=0.2"} })
	}
	f.print(os.Stdout, time.Since(f.start))
	if len(f.problems) > 0 {
		return fmt.Errorf("%d problem(s) found", len(f.problems))
	}
	return nil
}

func randDur(rng *rand.Rand, max time.Duration) time.Duration {
	if max <= 0 {
		return time.Millisecond
	}
	return time.Duration(rng.Int64N(int64(max))) + time.Millisecond
}

// campaign runs trials and keeps the figures.
type campaign struct {
	o    options
	f    *figures
	bin  string
	work string
	rng  *rand.Rand
}

// step is what happens to the first run of a phase.
type step struct {
	crash     string        // PROMOTER_TEST_CRASH value
	killAfter time.Duration // SIGKILL after this long
	faults    string        // fault spec on both tenants during the run
	gitStatus bool          // a git status loop beside the run (an IDE, a prompt)
}

// calibrate times the two runs of an undisturbed trial.
func (c *campaign) calibrate() (first, later time.Duration, err error) {
	w, err := newWorld(c.work, c.rng, kind{})
	if err != nil {
		return 0, 0, err
	}
	defer w.close()
	start := time.Now()
	if r := w.run(c.bin, c.o.timeout, 0, nil, "run", "--config", w.cfg); r.code != 0 {
		return 0, 0, fmt.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
	first = time.Since(start)
	if err := w.changeSource(2); err != nil {
		return 0, 0, err
	}
	start = time.Now()
	if r := w.run(c.bin, c.o.timeout, 0, nil, "run", "--config", w.cfg); r.code != 0 {
		return 0, 0, fmt.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
	later = time.Since(start)
	// The leak detector must see what it is meant to see: a secret
	// committed by a person, and one in promoter's output.
	if found := w.leaks(); len(found) > 0 {
		return 0, 0, fmt.Errorf("an undisturbed run leaked %v", found)
	}
	if err := os.WriteFile(filepath.Join(w.repo, "canary.txt"), []byte(w.planted[0]), 0o644); err != nil {
		return 0, 0, err
	}
	if _, err := w.git("add", "canary.txt"); err != nil {
		return 0, 0, err
	}
	if _, err := w.git("commit", "-q", "-m", "canary"); err != nil {
		return 0, 0, err
	}
	if err := os.Remove(filepath.Join(w.repo, "canary.txt")); err != nil {
		return 0, 0, err
	}
	tokens := w.dev.issued()
	if len(tokens) == 0 {
		return 0, 0, errors.New("the dev fake issued no access token")
	}
	w.outputs.WriteString(tokens[0])
	if found := w.leaks(); len(found) != 2 {
		return 0, 0, fmt.Errorf("the leak detector found %v, want the 2 planted canaries", found)
	}
	return first, later, nil
}

// trial runs two phases in a fresh world: phase 1 on a fresh repository,
// phase 2 after a source change with a person's uncommitted work in the
// working tree. Each phase's first run is disturbed as plan says; a second
// run without disturbance must then finish (exit 0, or 3 where every
// preview has errors). Then every promise is checked.
func (c *campaign) trial(name string, k kind, plan func(w *world, phase int) step) {
	f := c.f
	f.trials++
	dirty := k.dirty
	w, err := newWorld(c.work, c.rng, k)
	if err != nil {
		f.problem(name, "set up: %v", err)
		return
	}
	defer w.close()
	f.planted = len(w.planted)
	if dirty {
		f.dirtyTrials++
	}
	if k.remote {
		f.remoteTrials++
	}
	want := 0 // exit code of a recovery run
	if dirty {
		want = 3
	}
	var edits *userEdits
	for phase := 1; phase <= 2; phase++ {
		if phase == 2 {
			if err := w.changeSource(phase); err != nil {
				f.problem(name, "%v", err)
				return
			}
			if !w.hasHead() {
				f.problem(name, "phase 2: no commit after phase 1")
				return
			}
			if edits, err = w.makeUserEdits(); err != nil {
				f.problem(name, "user edits: %v", err)
				return
			}
		}
		s := plan(w, phase)
		var env []string
		if s.crash != "" {
			env = []string{"PROMOTER_TEST_CRASH=" + s.crash}
			f.pointTries++
		}
		if s.killAfter > 0 {
			f.randomTries++
		}
		if s.faults != "" {
			w.dev.SetFaults(s.faults)
			w.prod.SetFaults(s.faults)
			f.faultRuns++
		}
		var stopLoop func() int
		if s.gitStatus {
			stopLoop = w.gitStatusLoop(5000)
		}
		since := time.Now()
		r := w.run(c.bin, c.o.timeout, s.killAfter, env, "run", "--config", w.cfg)
		if stopLoop != nil {
			f.gitStatusRuns += stopLoop()
		}
		w.dev.SetFaults("")
		w.prod.SetFaults("")
		if r.hung {
			f.hung++
			f.problem(name, "phase %d: the disturbed run did not end within %s", phase, c.o.timeout)
		}
		killed := r.signal == syscall.SIGKILL
		switch {
		case s.crash != "" && killed:
			f.pointKills++
		case s.crash != "":
			f.notReached = append(f.notReached, fmt.Sprintf("%s (phase %d, exit %d)", s.crash, phase, r.code))
		case s.killAfter > 0 && killed:
			f.randomKills++
		case s.faults == "" && r.code != want:
			f.problem(name, "phase %d: undisturbed run exit %d, want %d:\n%s", phase, r.code, want, tail(r.stderr))
		}
		if killed {
			f.fscks++
			if err := w.fsck(); err != nil {
				f.fsckFailures++
				f.problem(name, "phase %d: after SIGKILL: %v", phase, err)
			}
		}
		r = w.run(c.bin, c.o.timeout, 0, nil, "run", "--config", w.cfg)
		if r.code != want && strings.Contains(r.stderr, "stopped before the tenant answered") {
			// An import request without an answer (a 500, a kill before
			// the answer): the documented procedure is the operator's.
			if err := c.operator(w, since); err != nil {
				f.problem(name, "phase %d: the documented in-flight procedure: %v", phase, err)
			}
			r = w.run(c.bin, c.o.timeout, 0, nil, "run", "--config", w.cfg)
		}
		if r.code != want {
			f.recoveryFailures++
			f.problem(name, "phase %d: recovery run exit %d, want %d:\n%s", phase, r.code, want, tail(r.stderr))
		}
		if phase == 1 {
			if lines, err := w.dirtyTree(); err != nil || len(lines) > 0 {
				f.dirtyTrees++
				f.problem(name, "phase 1: working tree not equal to HEAD after recovery: %v %v", lines, err)
			}
		}
	}
	if s := plan(w, 1); s.faults != "" {
		f.faultTrials++
	}
	c.check(name, w, dirty, edits)
	if k.remote {
		if bad, err := w.remoteDiffers(); err != nil || len(bad) > 0 {
			f.remoteDiffers++
			f.problem(name, "the remote does not hold what the repository holds after recovery: %v %v", bad, err)
		}
	}
	f.runs += w.runs
	if c.o.verbose {
		fmt.Fprintf(os.Stderr, "campaign: %-60s %2d runs, %d problem(s) so far\n", name, w.runs, len(f.problems))
	}
}

// operator follows the README's procedure for an in-flight marker without
// a job id: look for a real import job the tenant started since the run
// began; record it with promoter resume, or delete the marker when there is
// none.
func (c *campaign) operator(w *world, since time.Time) error {
	c.f.operatorSteps++
	var jobs []string
	for _, j := range w.prod.Jobs() {
		if j.Type == spconfig.JobImport && !j.Preview && !j.Created.Before(since) {
			jobs = append(jobs, j.JobID)
		}
	}
	switch len(jobs) {
	case 0:
		return os.Remove(filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json"))
	case 1:
		c.f.resumes++
		if r := w.run(c.bin, c.o.timeout, 0, nil, "resume", "--config", w.cfg, "--pipeline", "dev-to-prod", "--job", jobs[0]); r.code != 0 {
			return fmt.Errorf("promoter resume --job %s: exit %d:\n%s", jobs[0], r.code, tail(r.stderr))
		}
		return nil
	}
	return fmt.Errorf("%d real import jobs since the run started: %v", len(jobs), jobs)
}

// check counts what broke in a world after its trial.
func (c *campaign) check(name string, w *world, dirty bool, edits *userEdits) {
	f := c.f
	f.fscks++
	if err := w.fsck(); err != nil {
		f.fsckFailures++
		f.problem(name, "at the end: %v", err)
	}
	if edits != nil {
		lost, extra, err := w.checkUserEdits(edits)
		if err != nil {
			f.problem(name, "user edits: %v", err)
		}
		if len(lost) > 0 {
			f.lostEdits += len(lost)
			f.problem(name, "lost user edits: %v", lost)
		}
		if len(extra) > 0 {
			f.dirtyTrees++
			f.problem(name, "working tree differs from HEAD beyond the user's edits: %v", extra)
		}
	}
	real, failed := w.prod.jobCounts()
	expected := 2
	if dirty {
		expected = 0
		if real > 0 {
			f.dirtyImports += real
			f.problem(name, "%d real import(s) although every preview had errors", real)
		}
	} else {
		if d := real - failed - expected; d > 0 {
			f.doubleImports += d
			f.problem(name, "%d real imports (%d FAILED), want %d: %d double", real, failed, expected, d)
		} else if d < 0 {
			f.unfinished++
			f.problem(name, "%d real imports (%d FAILED), want %d: a promotion never finished", real, failed, expected)
		}
		if bad := w.prodDiffers(); len(bad) > 0 {
			f.unfinished++
			f.problem(name, "prod differs from dev after recovery: %v", bad)
		}
	}
	if n := w.prod.importsWithoutCleanPreview(); n > 0 {
		f.unpreviewed += n
		f.problem(name, "%d real import(s) not after a COMPLETE preview of their own", n)
	}
	if n := w.importedRecords(); !dirty && n != expected {
		f.recordMismatches++
		f.problem(name, "%d import records, want %d", n, expected)
	}
	if _, err := os.Stat(filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")); err == nil {
		f.markersLeft++
		f.problem(name, "in-flight marker left after recovery")
	}
	if found := w.leaks(); len(found) > 0 {
		f.leaks += len(found)
		f.problem(name, "secrets found: %v", found)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-4):], "\n")
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run the campaign inside the promoter module (go run ./bench/campaign)")
	}
	return filepath.Dir(mod), nil
}

func commitOf(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s, %d CPUs, %s, %s, host %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version(), host)
}

func (f *figures) print(w *os.File, took time.Duration) {
	fmt.Fprintf(w, "promoter fault campaign (issue 19)\n")
	fmt.Fprintf(w, "  date     %s\n  commit   %s\n  machine  %s\n  took     %s\n\n", f.start.UTC().Format(time.RFC3339), f.commit, f.machine, took.Round(time.Second))
	row := func(k string, v any) { fmt.Fprintf(w, "  %-52s %v\n", k, v) }
	fmt.Fprintln(w, "tried")
	row("trials (fresh repository, two promotions each)", f.trials)
	row("promoter runs", f.runs)
	row("SIGKILL at a crash-hook point", fmt.Sprintf("%d of %d tried", f.pointKills, f.pointTries))
	row("SIGKILL at a random time", fmt.Sprintf("%d of %d tried (the others ended first)", f.randomKills, f.randomTries))
	row("fault trials (runs with faults on both tenants)", fmt.Sprintf("%d (%d runs)", f.faultTrials, f.faultRuns))
	row("trials whose every preview has errors", f.dirtyTrials)
	row("trials with a remote (every flow pushes)", f.remoteTrials)
	row("git status runs beside promoter runs", f.gitStatusRuns)
	row("git fsck --strict checks (after each kill, each trial)", f.fscks)
	row("secrets planted per trial (+ every access token issued)", f.planted)
	row("in-flight markers without a job id handled by hand", fmt.Sprintf("%d (%d recorded with promoter resume)", f.operatorSteps, f.resumes))
	fmt.Fprintln(w, "\nbroken (all 0 when every promise holds)")
	row("double imports", f.doubleImports)
	row("imports after a dirty preview", f.dirtyImports)
	row("real imports without a COMPLETE preview of their own", f.unpreviewed)
	row("lost user edits", f.lostEdits)
	row("dirty working trees after recovery", f.dirtyTrees)
	row("fsck failures", f.fsckFailures)
	row("leaked secrets", f.leaks)
	row("recovery runs that failed", f.recoveryFailures)
	row("promotions never finished / prod differs from dev", f.unfinished)
	row("import records not one per import", f.recordMismatches)
	row("in-flight markers left", f.markersLeft)
	row("remotes not equal to the repository after recovery", f.remoteDiffers)
	row("runs that hung", f.hung)
	if len(f.notReached) > 0 {
		fmt.Fprintf(w, "\ncrash points not reached (the run ended without passing them): %s\n", strings.Join(f.notReached, ", "))
	}
	if len(f.problems) > 0 {
		fmt.Fprintln(w, "\nproblems")
		for i, p := range f.problems {
			if i == 50 {
				fmt.Fprintf(w, "  ... and %d more\n", len(f.problems)-50)
				break
			}
			fmt.Fprintf(w, "  - %s\n", p)
		}
	}
}
