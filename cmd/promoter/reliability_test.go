package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// The reliability tests (issue 7) drive the real binary against fake tenants
// that inject faults, kill it at step boundaries, break its repository and
// feed it hostile input, and then check with the real git CLI and the fakes'
// job lists that nothing was lost, committed half or imported twice.

// tenantSetup customises one fake tenant of a world.
type tenantSetup struct {
	// opts adjusts the tenant's options before it starts.
	opts func(o *spconfigtest.Options)
	// wrap wraps the tenant's handler (to rewrite answers or watch requests).
	wrap func(h http.Handler) http.Handler
}

// worldOptions shape a world beyond newE2E's defaults.
type worldOptions struct {
	repo     string // replaces the "repo:" block of e2eConfig when set
	pipeline string // extra keys of the pipeline (4-space indent)
	dev      tenantSetup
	prod     tenantSetup
	// blocked keeps the sample's missing owner in prod, so the first run is
	// blocked; by default it is added and the first run imports.
	blocked bool
}

// newWorld is newE2E with customisable tenants: each tenant is served by a
// handler the test may wrap, on 127.0.0.1.
func newWorld(t *testing.T, wo worldOptions) *e2e {
	t.Helper()
	samples := sharedSamples(t)
	w := &e2e{t: t, dir: t.TempDir()}
	w.repo = filepath.Join(w.dir, "repo")
	for _, name := range []string{"dev", "prod"} {
		setup := wo.dev
		if name == "prod" {
			setup = wo.prod
		}
		opts := sampleOptions(t, samples, name)
		if setup.opts != nil {
			setup.opts(&opts)
		}
		tn, err := spconfigtest.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		var h http.Handler = tn
		if setup.wrap != nil {
			h = setup.wrap(h)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		srv := &spconfigtest.Server{Tenant: tn, URL: "http://" + ln.Addr().String()}
		if name == "dev" {
			w.dev = srv
		} else {
			w.prod = srv
		}
	}
	if !wo.blocked {
		w.prod.AddIdentity("Imogene Mendez")
	}
	cfg := fmt.Sprintf(e2eConfig, w.dev.URL, w.prod.URL) + wo.pipeline
	if wo.repo != "" {
		cfg = strings.Replace(cfg, "repo:\n  path: ./repo\n", wo.repo, 1)
	}
	w.cfg = filepath.Join(w.dir, "promotion.yaml")
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = append(os.Environ(),
		"E2E_DEV_ID=dev-id", "E2E_DEV_SECRET=dev-secret-XYZZY",
		"E2E_PROD_ID=prod-id", "E2E_PROD_SECRET=prod-secret-XYZZY",
		"NO_COLOR=1")
	return w
}

// runResult is one finished promoter process.
type runResult struct {
	stdout, stderr string
	code           int            // -1 when a signal ended it
	signal         syscall.Signal // the signal that ended it, if any
}

func (r runResult) String() string {
	return fmt.Sprintf("exit %d (signal %v)\nstdout:\n%s\nstderr:\n%s", r.code, r.signal, r.stdout, r.stderr)
}

// start starts the binary with extra environment variables.
func (w *e2e) start(extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	w.t.Helper()
	cmd := w.command(append(slices.Clip(w.env), extraEnv...), args...)
	cmd.Dir = w.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatalf("start promoter %v: %v", args, err)
	}
	return cmd, &stdout, &stderr
}

// wait waits for a started process, killing it after a bound.
func (w *e2e) wait(cmd *exec.Cmd, stdout, stderr *bytes.Buffer) runResult {
	w.t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		w.t.Fatalf("promoter %v did not end within 90s\nstderr:\n%s", cmd.Args, stderr)
	}
	res := runResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.signal = ws.Signal()
		}
	case err != nil:
		w.t.Fatalf("run promoter %v: %v", cmd.Args, err)
	}
	return res
}

// exec runs the binary to its end with extra environment variables.
func (w *e2e) exec(extraEnv []string, args ...string) runResult {
	w.t.Helper()
	cmd, o, e := w.start(extraEnv, args...)
	return w.wait(cmd, o, e)
}

// intact checks what must hold after any run, failed or killed: the
// repository passes git fsck --strict and the working tree equals HEAD.
func (w *e2e) intact() {
	w.t.Helper()
	w.git("fsck", "--strict", "--no-progress")
	if st := w.git("status", "--porcelain"); st != "" {
		w.t.Errorf("working tree not clean:\n%s", st)
	}
}

// head returns HEAD, or "" before the first commit.
func (w *e2e) head() string {
	w.t.Helper()
	out, err := exec.Command("git", "-C", w.repo, "rev-parse", "-q", "--verify", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// previews counts the preview import jobs the prod fake ran.
func (w *e2e) previews() int {
	n := 0
	for _, j := range w.prod.Jobs() {
		if j.Type == spconfig.JobImport && j.Preview {
			n++
		}
	}
	return n
}

// importedRecords counts the "imported" verdicts in all import records.
func (w *e2e) importedRecords() int {
	w.t.Helper()
	list, err := exec.Command("git", "-C", w.repo, "notes", "--ref=promoter", "list").Output()
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.Lines(string(list)) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n += strings.Count(w.git("notes", "--ref=promoter", "show", f[1]), `"verdict": "imported"`)
	}
	return n
}

// snapshotsWhole checks that every commit that changed the source folder
// holds the whole export: the same number of files as the dev tenant has
// objects in the pipeline's scope (dev is not changed in these tests).
func (w *e2e) snapshotsWhole(want int) {
	w.t.Helper()
	for c := range strings.Lines(w.git("log", "--all", "--format=%H", "--", "tenants/dev")) {
		c = strings.TrimSpace(c)
		files := strings.Count(w.git("ls-tree", "-r", "--name-only", c, "tenants/dev/")+"\n", ".json\n")
		if files != want {
			w.t.Errorf("commit %s holds %d files under tenants/dev, want the whole export of %d: a partial snapshot", c[:12], files, want)
		}
	}
}

// devScope is the number of dev objects the pipeline snapshots (all types;
// the exclude list of e2eConfig only keeps AUTH_ORG from being promoted).
func (w *e2e) devScope() int { return len(w.dev.Objects("")) }

// realImportsFollowCleanPreviews checks on the fake's job list that every
// real import came after a COMPLETE preview that no other real import used.
func (w *e2e) realImportsFollowCleanPreviews() {
	w.t.Helper()
	previewOK := false
	for _, j := range w.prod.Jobs() {
		if j.Type != spconfig.JobImport {
			continue
		}
		if j.Preview {
			previewOK = j.Status == spconfig.StatusComplete
			continue
		}
		if !previewOK {
			w.t.Errorf("real import %s was not preceded by a COMPLETE preview", j.JobID)
		}
		previewOK = false
	}
}

// lastLine is the "promoter: ..." error line of stderr.
func lastError(stderr string) string {
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "promoter: ") {
			return l
		}
	}
	return ""
}

// scriptedRand returns a generator for spconfigtest.Options.Rand whose
// successive fault rolls come out as given (true: the fault happens), then
// never again. A roll is "Float64() < p"; 0 always is, the maximum never.
func scriptedRand(rolls ...bool) *rand.Rand {
	return rand.New(&script{rolls: rolls})
}

type script struct {
	mu    sync.Mutex
	rolls []bool
}

func (s *script) Uint64() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rolls) == 0 {
		return ^uint64(0)
	}
	r := s.rolls[0]
	s.rolls = s.rolls[1:]
	if r {
		return 0
	}
	return ^uint64(0)
}

// TestFaultyTenantsRunCompletesOrFailsCleanlyNeverTwice injects each fault
// the fake knows into both tenants, runs once with the faults on and once
// without, and checks after every run: exit 0 or a clear exit 1 (3 naming the
// FAILED preview when the preview job itself fails), git fsck and a clean
// tree, every snapshot whole, at most one real import and only after a
// COMPLETE preview; at the end exactly one import, recorded once, and prod
// equal to dev.
func TestFaultyTenantsRunCompletesOrFailsCleanlyNeverTwice(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults string
		codes  []int // allowed exit codes while faulty
	}{
		{"429 storm with Retry-After", "429=0.3", []int{0, 1}},
		{"500 and 503 bursts", "500=0.1,503=0.15", []int{0, 1}},
		{"slow downloads", "slow-download=300ms", []int{0}},
		{"truncated downloads", "truncate-download=1", []int{1}},
		{"failed preview jobs", "fail-import=1", []int{3}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seed := func(o *spconfigtest.Options) { o.Faults = tc.faults; o.RandSeed = uint64(i + 1) }
			w := newWorld(t, worldOptions{dev: tenantSetup{opts: seed}, prod: tenantSetup{opts: seed}})
			for run := range 1 {
				r := w.exec(nil, "run", "--config", w.cfg)
				if !containsInt(tc.codes, r.code) {
					t.Fatalf("run %d with faults %q: want exit in %v, got %s", run, tc.faults, tc.codes, r)
				}
				if strings.HasPrefix(tc.faults, "4") || strings.HasPrefix(tc.faults, "5") {
					if !strings.Contains(r.stderr, "spconfig retry") {
						t.Errorf("no request was retried: the faults %q never fired, the test proves nothing", tc.faults)
					}
				}
				if strings.HasPrefix(tc.faults, "truncate") && !strings.Contains(r.stderr, "truncated download") {
					t.Errorf("the truncated download is not named:\n%s", r.stderr)
				}
				if r.code == exitBlocked && !strings.Contains(r.stderr, "FAILED") {
					t.Errorf("run %d blocked without naming the FAILED preview:\n%s", run, r.stderr)
				}
				if r.code != 0 && lastError(r.stderr) == "" {
					t.Errorf("run %d failed without a \"promoter: ...\" message:\n%s", run, r.stderr)
				}
				if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "DATA RACE") {
					t.Fatalf("run %d: %s", run, r)
				}
				t.Logf("run %d with %q: exit %d: %s", run, tc.faults, r.code, lastError(r.stderr))
				if w.head() != "" {
					w.intact()
				}
				if n := w.realImports(); n > 1 {
					t.Fatalf("run %d: %d real imports for one promotion", run, n)
				}
			}
			w.dev.SetFaults("")
			w.prod.SetFaults("")
			w.mustPromoter(exitOK, "run", "--config", w.cfg)
			w.intact()
			w.snapshotsWhole(w.devScope())
			w.realImportsFollowCleanPreviews()
			want := 1
			if n := w.realImports(); n != want {
				t.Errorf("real imports = %d, want %d", n, want)
			}
			if n := w.importedRecords(); n != 1 {
				t.Errorf("import records with verdict imported = %d, want 1", n)
			}
			w.prodMatchesDev()
		})
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestJobsThatFailOrNeverFinishStopTheRunCleanly covers export and import jobs
// that end FAILED or stay IN_PROGRESS past jobTimeout: the run exits 1 naming
// the job, commits nothing partial, and a real import whose end is unknown is
// resumed by the next runs, never started again.
func TestJobsThatFailOrNeverFinishStopTheRunCleanly(t *testing.T) {
	t.Parallel()
	const timeout = "    jobTimeout: 2s\n"
	t.Run("source export FAILED", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{pipeline: timeout, dev: tenantSetup{opts: func(o *spconfigtest.Options) { o.Faults = "fail-export=1" }}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "FAILED") {
			t.Fatalf("want exit 1 naming the FAILED export, got %s", r)
		}
		if h := w.head(); h != "" {
			t.Errorf("a failed export committed %s", h)
		}
		if n := len(w.prod.Jobs()); n != 0 {
			t.Errorf("a failed source export still ran %d jobs on the target", n)
		}
		w.dev.SetFaults("")
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		w.intact()
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
	})
	t.Run("source export never finishes", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{pipeline: timeout, dev: tenantSetup{opts: func(o *spconfigtest.Options) { o.Faults = "hang-export=1" }}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "after 2s") {
			t.Fatalf("want exit 1 naming the 2s job timeout, got %s", r)
		}
		if h := w.head(); h != "" {
			t.Errorf("a timed-out export committed %s", h)
		}
		w.dev.SetFaults("")
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		w.intact()
	})
	t.Run("real import never finishes", func(t *testing.T) {
		t.Parallel()
		// hang-import=0.5 with scripted rolls: the preview finishes, the real
		// import hangs.
		w := newWorld(t, worldOptions{pipeline: timeout, prod: tenantSetup{opts: func(o *spconfigtest.Options) {
			o.Faults, o.Rand = "hang-import=0.5", scriptedRand(false, true)
		}}})
		r := w.exec(nil, "run", "--config", w.cfg)
		msg := lastError(r.stderr)
		if r.code != exitRuntime || !strings.Contains(msg, "still IN_PROGRESS after 2s") || !strings.Contains(msg, "resumes it") {
			t.Fatalf("want exit 1 saying the import is still running and will be resumed, got %s", r)
		}
		if _, err := os.Stat(filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")); err != nil {
			t.Fatalf("the in-flight marker of the unfinished import is gone: %v", err)
		}
		head := w.head()
		w.intact()
		// The next run resumes the same job (it still hangs) and does not
		// start another import.
		for range 1 {
			r = w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "is still IN_PROGRESS") {
				t.Fatalf("want the next run to resume the hung import and fail, got %s", r)
			}
		}
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want exactly 1 (the hung one)", n)
		}
		if got := w.head(); got != head {
			t.Errorf("runs that only resumed moved HEAD %s -> %s", head, got)
		}
		if ref, _ := exec.Command("git", "-C", w.repo, "rev-parse", "-q", "--verify", "refs/promoter/applied/prod").Output(); len(ref) > 0 {
			t.Errorf("applied advanced although the import never finished")
		}
		w.intact()
	})
	t.Run("real import FAILED", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{pipeline: timeout, prod: tenantSetup{opts: func(o *spconfigtest.Options) {
			o.Faults, o.Rand = "fail-import=0.5", scriptedRand(false, true)
		}}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "FAILED") {
			t.Fatalf("want exit 1 naming the FAILED import, got %s", r)
		}
		w.intact()
		if n := w.importedRecords(); n != 0 {
			t.Errorf("a FAILED import was recorded as imported")
		}
		note := w.git("log", "--all", "--notes=promoter", "--format=%N")
		if !strings.Contains(note, `"verdict": "import-failed"`) {
			t.Errorf("the FAILED import has no import-failed record:\n%s", note)
		}
		// The failure is definite (the tenant changed nothing), so the next
		// run may import again: once.
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		if n := w.realImports(); n != 2 {
			t.Errorf("real imports = %d, want 2 (the FAILED one and the retry)", n)
		}
		w.realImportsFollowCleanPreviews()
		w.prodMatchesDev()
	})
}

// TestExpiredTokensMidRunAreRefreshed makes the tenant's clock jump past the
// token lifetime every few requests, so tokens the client still trusts are
// refused: the run refreshes them and completes with one import.
func TestExpiredTokensMidRunAreRefreshed(t *testing.T) {
	t.Parallel()
	jumpy := func() tenantSetup {
		var offset atomic.Int64
		var requests atomic.Int64
		return tenantSetup{
			opts: func(o *spconfigtest.Options) {
				o.TokenTTL = 12 * time.Minute
				o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			},
			wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.URL.Path, "/sp-config/") && requests.Add(1)%4 == 0 {
						offset.Add(int64(13 * time.Minute))
					}
					h.ServeHTTP(rw, r)
				})
			},
		}
	}
	w := newWorld(t, worldOptions{dev: jumpy(), prod: jumpy()})
	w.raceChildren() // one token shared by the client's calls, refreshed
	r := w.exec(nil, "run", "--config", w.cfg)
	if r.code != exitOK {
		t.Fatalf("run with expiring tokens: %s", r)
	}
	if !strings.Contains(r.stderr, "token refused, refreshing") {
		t.Errorf("no token was refused: the test proves nothing\n%s", r.stderr)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("real imports = %d, want 1", n)
	}
	w.intact()
	w.prodMatchesDev()
}

// TestSIGKILLAtEveryStepBoundaryLosesNothing kills the process at each step
// boundary of a promotion, including after the real import was accepted but
// before it was polled or recorded; the next run finishes the promotion with
// exactly one real import, one record, and a repository that passes fsck.
func TestSIGKILLAtEveryStepBoundaryLosesNothing(t *testing.T) {
	t.Parallel()
	points := []string{"after:snapshot", "after:propose", "after:preview", "import-started", "after:import", "after:verify"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{})
			r := w.exec([]string{crashEnv + "=" + point}, "run", "--config", w.cfg)
			if r.signal != syscall.SIGKILL {
				t.Fatalf("crash point %s was not reached: %s", point, r)
			}
			if w.head() != "" {
				w.git("fsck", "--strict", "--no-progress")
			}
			r = w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitOK {
				t.Fatalf("run after SIGKILL at %s: %s", point, r)
			}
			resumed := strings.Contains(r.stdout, "resume")
			if wantResume := point == "import-started" || point == "after:import" || point == "after:verify"; resumed != wantResume {
				t.Errorf("after SIGKILL at %s the next run resumed=%v, want %v\n%s", point, resumed, wantResume, r.stdout)
			}
			w.intact()
			if n := w.realImports(); n != 1 {
				t.Errorf("real imports = %d, want exactly 1", n)
			}
			if n := w.importedRecords(); n != 1 {
				t.Errorf("import records = %d, want 1", n)
			}
			if _, err := os.Stat(filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")); err == nil {
				t.Errorf("in-flight marker left after the promotion was recorded")
			}
			w.snapshotsWhole(w.devScope())
			w.realImportsFollowCleanPreviews()
			w.prodMatchesDev()
			if point != "import-started" {
				return
			}
			// A third run has nothing to do.
			head := w.head()
			w.mustPromoter(exitOK, "run", "--config", w.cfg)
			if w.head() != head || w.realImports() != 1 {
				t.Errorf("the run after recovery changed something: HEAD %s -> %s, %d imports", head, w.head(), w.realImports())
			}
		})
	}
}

// TestSIGTERMStopsTheRunAtAStepBoundary sends SIGTERM at three points: while
// the source export downloads, between snapshot and propose, and right after
// the real import was accepted. The run exits non-zero without a partial
// commit, and the next run finishes with one import.
func TestSIGTERMStopsTheRunAtAStepBoundary(t *testing.T) {
	t.Parallel()
	t.Run("during the export download", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{dev: tenantSetup{opts: func(o *spconfigtest.Options) { o.Faults = "slow-download=20s" }}})
		w.raceChildren() // SIGTERM cancelling a download in flight
		cmd, o, e := w.start(nil, "run", "--config", w.cfg)
		for i := 0; len(w.dev.Jobs()) == 0; i++ {
			if i > 400 {
				cmd.Process.Kill()
				t.Fatal("the run never started its export")
			}
			time.Sleep(25 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		start := time.Now()
		r := w.wait(cmd, o, e)
		if r.code == exitOK || r.signal != 0 || !strings.Contains(lastError(r.stderr), "terminated signal received") {
			t.Fatalf("want a non-zero exit naming the cancellation, got %s", r)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("SIGTERM took %s to stop the run (the download waits 20s)", d)
		}
		if h := w.head(); h != "" {
			t.Errorf("an interrupted export committed %s", h)
		}
		w.dev.SetFaults("")
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		w.intact()
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
	})
	t.Run("after snapshot", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{})
		w.raceChildren() // the signal handler's cancellation
		r := w.exec([]string{crashEnv + "=term:after:snapshot"}, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "observe: context canceled") {
			t.Fatalf("want exit 1 stopping before the target is observed, got %s", r)
		}
		w.intact()
		if got := w.git("log", "--format=%s"); strings.Count(got, "\n") != 0 || !strings.HasPrefix(got, "Snapshot") {
			t.Errorf("want only the whole snapshot commit, got:\n%s", got)
		}
		if len(w.prod.Jobs()) != 0 {
			t.Errorf("the target saw jobs after SIGTERM: %+v", w.prod.Jobs())
		}
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		w.intact()
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
		w.prodMatchesDev()
	})
	t.Run("after the real import started", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{})
		w.raceChildren() // the signal handler's cancellation
		r := w.exec([]string{crashEnv + "=term:import-started"}, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "the next run resumes it") {
			t.Fatalf("want exit 1 saying the import will be resumed, got %s", r)
		}
		w.intact()
		if _, err := os.Stat(filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")); err != nil {
			t.Fatalf("the interrupted import's in-flight marker is gone: %v", err)
		}
		r = w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK || !strings.Contains(r.stdout, "resume") {
			t.Fatalf("want the next run to resume and record the import, got %s", r)
		}
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
		if n := w.importedRecords(); n != 1 {
			t.Errorf("import records = %d, want 1", n)
		}
		w.intact()
	})
}

// TestGitRemoteRejectingOrMissingFailsCleanlyThenSucceeds covers a remote whose
// pre-receive hook rejects every push and a remote path that does not exist:
// the run exits 1 naming the remote problem, and succeeds once it is fixed.
func TestGitRemoteRejectingOrMissingFailsCleanlyThenSucceeds(t *testing.T) {
	t.Parallel()
	t.Run("pre-receive rejects", func(t *testing.T) {
		t.Parallel()
		remote := filepath.Join(t.TempDir(), "remote.git")
		if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", remote).CombinedOutput(); err != nil {
			t.Fatalf("git init --bare: %v\n%s", err, out)
		}
		hook := filepath.Join(remote, "hooks", "pre-receive")
		if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'push rejected by policy' >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		w := newWorld(t, worldOptions{repo: "repo:\n  path: ./repo\n  remote: " + remote + "\n"})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "push") {
			t.Fatalf("want exit 1 naming the rejected push, got %s", r)
		}
		w.intact()
		if err := os.Remove(hook); err != nil {
			t.Fatal(err)
		}
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		w.intact()
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
		local, remoteHead := w.head(), w.git("ls-remote", remote, "refs/heads/main")
		if !strings.HasPrefix(remoteHead, local) {
			t.Errorf("remote main %q is not the local HEAD %s after the push succeeded", remoteHead, local)
		}
		if refs := w.git("ls-remote", remote, "refs/promoter/*"); !strings.Contains(refs, "refs/promoter/applied/prod") {
			t.Errorf("the applied ref was not pushed:\n%s", refs)
		}
	})
	t.Run("remote path missing", func(t *testing.T) {
		t.Parallel()
		remote := filepath.Join(t.TempDir(), "missing.git")
		w := newWorld(t, worldOptions{repo: "repo:\n  path: ./repo\n  remote: " + remote + "\n"})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), remote) {
			t.Fatalf("want exit 1 naming the missing remote %s, got %s", remote, r)
		}
		if n := len(w.prod.Jobs()) + len(w.dev.Jobs()); n != 0 {
			t.Errorf("%d tenant jobs ran although the repository could not be opened", n)
		}
		if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", remote).CombinedOutput(); err != nil {
			t.Fatalf("git init --bare: %v\n%s", err, out)
		}
		os.RemoveAll(w.repo) // a half-made clone, if any, is the user's to remove
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		w.intact()
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
	})
}

// TestDiskFullWhileWritingFailsCleanlyThenSucceeds puts the repository on a
// size-limited tmpfs, fills it, and changes the source: the snapshot fails
// with "no space left", HEAD and the tree stay intact, and after space is
// freed the next run promotes the change.
func TestDiskFullWhileWritingFailsCleanlyThenSucceeds(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	if err := os.MkdirAll(w.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", w.repo).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (%v: %s); an injected writer would need a hook in gitstore", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", w.repo).Run() })
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	head := w.head()

	// Fill the file system.
	filler := filepath.Join(w.repo, ".git", "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	r := w.exec(nil, "run", "--config", w.cfg)
	if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "no space left on device") {
		t.Fatalf("want exit 1 naming the full disk, got %s", r)
	}
	if got := w.head(); got != head {
		t.Errorf("a run on a full disk moved HEAD %s -> %s", head, got)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("a run on a full disk imported: %d real imports", n)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	w.intact()
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.intact()
	if n := w.realImports(); n != 2 {
		t.Errorf("real imports = %d, want 2 (first promotion and the change)", n)
	}
	w.prodMatchesDev()
}

// TestTwoProcessesOnOneRepositoryWaitOrNameTheHolder runs a second promoter
// while the first holds the repository: the second waits, and when stopped
// while waiting it fails naming the holder's pid; a second that waits to
// the end finds nothing left to do.
func TestTwoProcessesOnOneRepositoryWaitOrNameTheHolder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dev: tenantSetup{opts: func(o *spconfigtest.Options) { o.Faults = "slow-download=3s" }}})
	w.raceChildren() // the lock's wait, stopped by SIGTERM
	first, o1, e1 := w.start(nil, "run", "--config", w.cfg)
	for i := 0; len(w.dev.Jobs()) == 0; i++ {
		if i > 400 {
			first.Process.Kill()
			t.Fatal("the first run never started its export")
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The first run holds the lock during its 3s download.
	waiter, o2, e2 := w.start(nil, "run", "--config", w.cfg)
	stopped, o3, e3 := w.start(nil, "export", "--config", w.cfg)
	time.Sleep(time.Second)
	stopped.Process.Signal(syscall.SIGTERM)
	r3 := w.wait(stopped, o3, e3)
	msg := lastError(r3.stderr)
	if r3.code == exitOK || !strings.Contains(msg, "held by pid "+fmt.Sprint(first.Process.Pid)) {
		t.Errorf("the stopped waiter does not name the holder pid %d: %s", first.Process.Pid, r3)
	}
	r1 := w.wait(first, o1, e1)
	r2 := w.wait(waiter, o2, e2)
	if r1.code != exitOK || r2.code != exitOK {
		t.Fatalf("first: %s\nsecond: %s", r1, r2)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("real imports = %d, want 1", n)
	}
	w.intact()
	w.snapshotsWhole(w.devScope())
}

// TestBadConfigurationExitsTwoNamingEveryProblem runs promoter on broken
// configurations: every command that reads one exits 2 and names each
// problem with its line or key. In process (run and exitCode, as main
// calls them): nothing here needs a child process.
func TestBadConfigurationExitsTwoNamingEveryProblem(t *testing.T) {
	t.Parallel()
	good := fmt.Sprintf(e2eConfig, "http://127.0.0.1:1", "http://127.0.0.1:2")
	secrets := []string{"E2E_DEV_ID=dev-id", "E2E_DEV_SECRET=s1", "E2E_PROD_ID=prod-id", "E2E_PROD_SECRET=s2"}
	cases := []struct {
		name   string
		config string
		env    []string
		want   []string
	}{
		{"malformed YAML", "repo:\n  path: ./repo\ntenants: [\n", secrets, []string{"promotion.yaml:4: YAML syntax"}},
		{"unknown keys", strings.Replace(good, "  path: ./repo\n", "  path: ./repo\n  brnch: main\n", 1) + "    colour: blue\n", secrets,
			[]string{"promotion.yaml:3: repo.brnch: unknown key", `did you mean "branch"`, "promotion.yaml:21: pipelines[0].colour: unknown key"}},
		{"bad cron", good + "    schedule: \"61 * * * *\"\n", secrets, []string{"promotion.yaml:20: pipelines[0].schedule: bad cron", "61"}},
		{"unknown tenant", strings.Replace(good, "target: prod", "target: qa", 1), secrets, []string{"pipelines[0].target: unknown tenant \"qa\""}},
		{"duplicate pipelines", good + "  - name: dev-to-prod\n    source: dev\n    target: prod\n", secrets, []string{"pipelines[1].name", "already used"}},
		{"missing secrets", good, []string{"E2E_DEV_ID=dev-id"}, []string{"E2E_DEV_SECRET", "E2E_PROD_ID", "E2E_PROD_SECRET"}},
	}
	// the environment a child had: PATH, HOME and the case's variables
	vars := func(dir string, env []string) map[string]string {
		vars := map[string]string{"PATH": os.Getenv("PATH"), "HOME": dir}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		return vars
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "promotion.yaml"), []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, verb := range []string{"validate", "run"} {
				stdout, stderr, code := promote(t, vars(dir, tc.env), verb, "--config", filepath.Join(dir, "promotion.yaml"))
				if code != exitUsage {
					t.Errorf("promoter %s: want exit 2, got %d\nstdout:\n%s\nstderr:\n%s", verb, code, stdout, stderr)
					continue
				}
				for _, want := range tc.want {
					if !strings.Contains(stderr, want) {
						t.Errorf("promoter %s: stderr does not name %q:\n%s", verb, want, stderr)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "repo")); err == nil {
				t.Errorf("a bad configuration still created the repository")
			}
		})
	}
}

// hostileSelf builds an export entry of type typ named name with an object
// body obj (JSON object text without the name).
func hostileEntry(t *testing.T, typ, name, attrs string) json.RawMessage {
	t.Helper()
	n, _ := json.Marshal(name)
	raw := fmt.Sprintf(`{"version":1,"self":{"type":%q,"id":"h-%x","name":%s},"object":{"id":"h-%x","name":%s,"type":"lower","attributes":%s}}`,
		typ, name, n, name, n, attrs)
	if !json.Valid([]byte(raw)) {
		t.Fatalf("hostile entry is not JSON: %s", raw)
	}
	return json.RawMessage(raw)
}

// rewriteDownloads wraps a tenant so that export downloads are replaced by
// fn(original body).
func rewriteDownloads(fn func(body []byte) []byte) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.URL.Path, "/sp-config/export/") || !strings.HasSuffix(r.URL.Path, "/download") {
				h.ServeHTTP(rw, r)
				return
			}
			rec := &captureWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			body := rec.body.Bytes()
			if rec.status == 0 || rec.status == http.StatusOK {
				body = fn(body)
			}
			for k, v := range rec.header {
				rw.Header()[k] = v
			}
			rw.Header().Set("Content-Length", fmt.Sprint(len(body)))
			if rec.status != 0 {
				rw.WriteHeader(rec.status)
			}
			rw.Write(body)
		})
	}
}

// marshalRaw encodes v without HTML escaping, so signed objects keep their
// exact bytes (json.Marshal would turn "<" in a rule script into \u003c).
func marshalRaw(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return bytes.TrimSpace(b.Bytes())
}

type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) WriteHeader(code int)        { c.status = code }
func (c *captureWriter) Write(b []byte) (int, error) { return c.body.Write(b) }

// TestHostileExportsAreRefusedOrContained feeds the pipeline exports with
// hostile object names, duplicates, non-JSON and truncated bodies and a huge
// object: each run ends with a clear exit (0, 1 or 3), the repository stays
// sound, every file sits in its tenant's type folder, and nothing is written
// outside the repository.
func TestHostileExportsAreRefusedOrContained(t *testing.T) {
	t.Parallel()
	escape := filepath.Join(os.TempDir(), fmt.Sprintf("promoter-escape-%d", os.Getpid()))
	names := []string{
		"../../../../../../" + strings.TrimPrefix(escape, "/"),
		"..", ".", ".git", "CON", "nul.txt", "a/b\\c:d", "ctl\x01\x1b[31m\nname\ttab",
		strings.Repeat("long-", 80), "Dup", "dup", "%2e%2e", "~user", " lead and trail ",
	}
	addObjects := func(t *testing.T, extra ...json.RawMessage) func([]byte) []byte {
		return func(body []byte) []byte {
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Errorf("fake export is not JSON: %v", err)
				return body
			}
			var objs []json.RawMessage
			json.Unmarshal(doc["objects"], &objs)
			objs = append(objs, extra...)
			doc["objects"] = marshalRaw(objs)
			return marshalRaw(doc)
		}
	}
	static := `{"input":{"type":"static","attributes":{"value":"x"}}}`
	cases := []struct {
		name    string
		rewrite func(t *testing.T) func([]byte) []byte
		codes   []int
		msg     string // expected in the error when it fails
	}{
		{"hostile names", func(t *testing.T) func([]byte) []byte {
			var extra []json.RawMessage
			for _, n := range names {
				extra = append(extra, hostileEntry(t, "TRANSFORM", n, static))
			}
			return addObjects(t, extra...)
		}, []int{0}, ""},
		{"exact duplicate object", func(t *testing.T) func([]byte) []byte {
			e := hostileEntry(t, "TRANSFORM", "Twin", static)
			return addObjects(t, e, e)
		}, []int{0, 1}, "hold the same object"},
		{"unknown type", func(t *testing.T) func([]byte) []byte {
			return addObjects(t, hostileEntry(t, "NOT_A_TYPE", "x", static))
		}, []int{1}, "NOT_A_TYPE"},
		{"huge single object", func(t *testing.T) func([]byte) []byte {
			big := `{"input":{"type":"static","attributes":{"value":"` + strings.Repeat("x", 300<<10) + `"}}}`
			return addObjects(t, hostileEntry(t, "TRANSFORM", "Huge", big))
		}, []int{0}, ""},
		{"non-JSON body", func(t *testing.T) func([]byte) []byte {
			return func([]byte) []byte { return []byte("<html><body>502 Bad Gateway</body></html>") }
		}, []int{1}, "export"},
		{"truncated body", func(t *testing.T) func([]byte) []byte {
			return func(b []byte) []byte { return b[:len(b)/2] }
		}, []int{1}, "export"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{dev: tenantSetup{wrap: rewriteDownloads(tc.rewrite(t))}})
			r := w.exec(nil, "run", "--config", w.cfg)
			if !containsInt(tc.codes, r.code) {
				t.Fatalf("want exit in %v, got %s", tc.codes, r)
			}
			t.Logf("exit %d %s", r.code, lastError(r.stderr))
			if r.code != 0 && !strings.Contains(lastError(r.stderr), tc.msg) {
				t.Errorf("error does not name %q: %s", tc.msg, lastError(r.stderr))
			}
			if strings.Contains(r.stderr, "panic:") {
				t.Fatalf("%s", r)
			}
			if tc.codes[0] == 1 && len(tc.codes) == 1 && w.head() != "" {
				t.Errorf("a refused export was committed: %s", w.git("log", "--oneline"))
			}
			if _, err := os.Lstat(escape); err == nil {
				os.RemoveAll(escape)
				t.Errorf("a file was written outside the repository: %s", escape)
			}
			entries, _ := os.ReadDir(w.dir)
			for _, e := range entries {
				if e.Name() != "repo" && e.Name() != "promotion.yaml" {
					t.Errorf("unexpected %s written next to the repository", e.Name())
				}
			}
			if w.head() == "" {
				return
			}
			w.intact()
			for p := range strings.Lines(w.git("ls-tree", "-r", "--name-only", "-z", "HEAD")) {
				for _, f := range strings.Split(strings.TrimRight(p, "\n"), "\x00") {
					if f == "" {
						continue
					}
					parts := strings.Split(f, "/")
					if len(parts) != 4 || parts[0] != "tenants" || (parts[1] != "dev" && parts[1] != "prod") ||
						!spconfig.Exportable(parts[2]) || !strings.HasSuffix(parts[3], ".json") && !strings.HasSuffix(parts[3], ".bsh") {
						t.Errorf("file %q is not tenants/<tenant>/<TYPE>/<name>.json", f)
					}
					if len(parts[len(parts)-1]) > 200 {
						t.Errorf("file name of %d bytes: %q", len(parts[len(parts)-1]), f)
					}
					for _, c := range f {
						if c < 0x20 || c == 0x7f {
							t.Errorf("file name with a control character: %q", f)
							break
						}
					}
				}
			}
			if tc.name == "hostile names" {
				got := map[string]bool{}
				for f := range strings.Lines(w.git("ls-tree", "-r", "--name-only", "HEAD", "tenants/dev/TRANSFORM/")) {
					var e struct {
						Object struct{ Name string } `json:"object"`
					}
					json.Unmarshal([]byte(w.git("show", "HEAD:"+strings.TrimSpace(f))), &e)
					got[e.Object.Name] = true
				}
				for _, n := range names {
					if !got[n] {
						t.Errorf("hostile name %q is not kept intact in any file", n)
					}
				}
			}
		})
	}
}

// TestHandEditsAreRefusedWithClearErrors commits three kinds of broken hand
// edits to the target folder: a JSON syntax error (the error names the file
// and line), an edited signed RULE (blocked before any preview, naming the
// object) and a file moved into another type's folder.
func TestHandEditsAreRefusedWithClearErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(w *e2e)
		code  int
		wants []string
	}{
		{"JSON syntax error", func(w *e2e) {
			p := filepath.Join(w.repo, "tenants", "prod", "TRANSFORM", "Lowercase Email.json")
			data, err := os.ReadFile(p)
			if err != nil {
				w.t.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			lines[3] = lines[3] + ",,"
			os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
		}, exitRuntime, []string{"tenants/prod/TRANSFORM/Lowercase Email.json:4:"}},
		{"edited signed rule", func(w *e2e) {
			dir := filepath.Join(w.repo, "tenants", "prod", "RULE")
			ents, err := os.ReadDir(dir)
			if err != nil || len(ents) == 0 {
				w.t.Fatalf("no RULE in the target folder: %v", err)
			}
			p := filepath.Join(dir, ents[0].Name())
			data, _ := os.ReadFile(p)
			edited := strings.Replace(string(data), `"sourceCode": {`, `"sourceCode": {"hand": "edit", `, 1)
			if edited == string(data) {
				edited = strings.Replace(string(data), `"description": "`, `"description": "edited `, 1)
			}
			if edited == string(data) {
				w.t.Fatalf("cannot edit %s", p)
			}
			os.WriteFile(p, []byte(edited), 0o644)
		}, exitBlocked, []string{"signed object RULE"}},
		{"file in the wrong type folder", func(w *e2e) {
			w.git("mv", "tenants/prod/TRANSFORM/Lowercase Email.json", "tenants/prod/SOURCE/Lowercase Email.json")
		}, exitRuntime, []string{"tenants/prod/SOURCE/Lowercase Email.json", "TRANSFORM", "move it"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{})
			w.mustPromoter(exitOK, "run", "--config", w.cfg)
			tc.edit(w)
			w.git("commit", "-q", "-am", "hand edit: "+tc.name)
			previews, imports := w.previews(), w.realImports()
			for _, verb := range []string{"run"} {
				r := w.exec(nil, verb, "--config", w.cfg)
				if r.code != tc.code {
					t.Fatalf("promoter %s: want exit %d, got %s", verb, tc.code, r)
				}
				all := r.stdout + r.stderr
				for _, want := range tc.wants {
					if !strings.Contains(all, want) {
						t.Errorf("promoter %s output does not name %q:\n%s", verb, want, all)
					}
				}
			}
			if got := w.previews(); got != previews {
				t.Errorf("%d preview(s) ran on a broken desired state", got-previews)
			}
			if got := w.realImports(); got != imports {
				t.Errorf("%d import(s) ran on a broken desired state", got-imports)
			}
			w.intact()
		})
	}
}

// captureTokens wraps a tenant and records every access token it issues.
func captureTokens(mu *sync.Mutex, tokens *[]string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/oauth/token" {
				h.ServeHTTP(rw, r)
				return
			}
			rec := &captureWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if json.Unmarshal(rec.body.Bytes(), &tok) == nil && tok.AccessToken != "" {
				mu.Lock()
				*tokens = append(*tokens, tok.AccessToken)
				mu.Unlock()
			}
			for k, v := range rec.header {
				rw.Header()[k] = v
			}
			if rec.status != 0 {
				rw.WriteHeader(rec.status)
			}
			io.Copy(rw, &rec.body)
		})
	}
}
