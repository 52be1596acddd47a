package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// The tests of issue 19's minor items 6-9, 12 and 13 through the real binary.

// failFirst answers the first n requests that match with status code, then
// passes every request on.
func failFirst(n int64, code int, match func(r *http.Request) bool) func(http.Handler) http.Handler {
	var left atomic.Int64
	left.Store(n)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && left.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				_, _ = w.Write([]byte(`{"detailCode":"500.0 Internal Fault","messages":[{"text":"transient"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func isPost(suffix string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, suffix)
	}
}

// TestReliabilityTransientExportFaultsAreRetried (item 7): a 500 on the
// export start and a download cut mid-body do not fail the run: both are
// retried (bounded) and the run imports once. A 500 on the real import's
// start is not retried: the run fails and nothing was imported twice.
func TestReliabilityTransientExportFaultsAreRetried(t *testing.T) {
	t.Parallel()
	t.Run("export start 500 and a cut download", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{dev: tenantSetup{
			opts: func(o *spconfigtest.Options) { o.Faults, o.Rand = "truncate-download=0.5", scriptedRand(true) },
			wrap: failFirst(1, http.StatusInternalServerError, isPost("/sp-config/export")),
		}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK {
			t.Fatalf("want the transient faults retried and the run to import, got %s", r)
		}
		if !strings.Contains(r.stderr, "spconfig retry") || !strings.Contains(r.stderr, "downloading again") {
			t.Errorf("the faults did not fire or were not logged:\n%s", r.stderr)
		}
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
		w.intact()
		w.snapshotsWhole(w.devScope())
		w.prodMatchesDev()
	})
	t.Run("import start 500", func(t *testing.T) {
		t.Parallel()
		var imports atomic.Int64
		w := newWorld(t, worldOptions{prod: tenantSetup{wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if isPost("/sp-config/import")(r) && r.URL.Query().Get("preview") == "false" {
					imports.Add(1)
					rw.Header().Set("Content-Type", "application/json")
					rw.WriteHeader(http.StatusInternalServerError)
					_, _ = rw.Write([]byte(`{"messages":[{"text":"transient"}]}`))
					return
				}
				h.ServeHTTP(rw, r)
			})
		}}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime {
			t.Fatalf("want exit 1 after a 500 on the import start, got %s", r)
		}
		if n := imports.Load(); n != 1 {
			t.Errorf("the real import was requested %d times, want once (never retried on 500)", n)
		}
		for _, j := range w.prod.Jobs() {
			if j.Type == spconfig.JobImport && !j.Preview {
				t.Errorf("a real import job ran: %+v", j)
			}
		}
	})
}

// TestReliabilityResumedImportIsReportedImported (item 6): after a kill
// once the real import was accepted, the next run resumes and records it and
// says so: "imported (resumed)" on stdout; in the daemon the run's report in
// /api/pipelines says the same, and promoter_last_success_timestamp_seconds
// is set.
func TestReliabilityResumedImportIsReportedImported(t *testing.T) {
	t.Parallel()
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{})
		if r := w.exec([]string{crashEnv + "=import-started"}, "run", "--config", w.cfg); r.signal != syscall.SIGKILL {
			t.Fatalf("crash point not reached: %s", r)
		}
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK || !strings.Contains(r.stdout, "dev-to-prod: imported (resumed)") {
			t.Fatalf("want the resumed import reported as imported (resumed), got %s", r)
		}
		if n := w.importedRecords(); n != 1 {
			t.Errorf("import records = %d, want 1", n)
		}
		// The run after that has nothing to do, and says so.
		r = w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK || !strings.Contains(r.stdout, "dev-to-prod: nothing-to-do") {
			t.Errorf("want the next run to have nothing to do, got %s", r)
		}
	})
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{pipeline: "serve:\n  triggerTokenEnv: E2E_TRIGGER_TOKEN\n"})
		w.raceChildren() // the daemon
		w.env = append(w.env, "E2E_TRIGGER_TOKEN=tok")
		if r := w.exec([]string{crashEnv + "=import-started"}, "run", "--config", w.cfg); r.signal != syscall.SIGKILL {
			t.Fatalf("crash point not reached: %s", r)
		}
		d := w.startServe()
		waitReady(t, d.url+"/readyz")
		if code, body := d.trigger("dev-to-prod", "tok"); code != http.StatusAccepted {
			t.Fatalf("trigger = %d %s", code, body)
		}
		if got := d.waitRuns("dev-to-prod", 1); got != "imported" {
			t.Fatalf("outcome of the resuming run = %q, want imported\n%s", got, d.log())
		}
		_, api := d.get("/api/pipelines")
		var doc struct {
			Pipelines []struct {
				Runs []struct{ Outcome, Report, ResumedJob string } `json:"runs"`
			} `json:"pipelines"`
		}
		if err := json.Unmarshal([]byte(api), &doc); err != nil || len(doc.Pipelines) != 1 || len(doc.Pipelines[0].Runs) != 1 {
			t.Fatalf("/api/pipelines: %v\n%s", err, api)
		}
		if run := doc.Pipelines[0].Runs[0]; run.Report != "imported (resumed)" || run.ResumedJob == "" {
			t.Errorf("/api/pipelines does not report the resumed import:\n%s", api)
		}
		_, m := d.get("/metrics")
		if !strings.Contains(m, `promoter_last_success_timestamp_seconds{pipeline="dev-to-prod"}`) {
			t.Errorf("promoter_last_success_timestamp_seconds not set after the resumed import:\n%s", grepLines(m, "promoter_last_success"))
		}
		if !strings.Contains(m, `promoter_runs_total{outcome="imported",pipeline="dev-to-prod"} 1`) {
			t.Errorf("runs_total does not count an imported run:\n%s", grepLines(m, "promoter_runs_total"))
		}
		if code := d.stop(); code != 0 {
			t.Errorf("serve exit %d", code)
		}
	})
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

// hangRealImport makes prod's real import hang (the preview finishes).
func hangRealImport(o *spconfigtest.Options) {
	o.Faults, o.Rand = "hang-import=0.5", scriptedRand(false, true)
}

// TestReliabilityHungImportDoesNotWedgeThePipeline (item 8): a real import
// that never finishes costs the first run its jobTimeout; every later run
// looks once (seconds, not another jobTimeout) and fails saying how to get
// out: check the job in the tenant, promoter resume, or the marker file;
// never a Go function name.
func TestReliabilityHungImportDoesNotWedgeThePipeline(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{pipeline: "    jobTimeout: 12s\n", prod: tenantSetup{opts: hangRealImport}})
	w.raceChildren() // a job timeout cancelling the poll in flight
	r := w.exec(nil, "run", "--config", w.cfg)
	if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "resumes it") {
		t.Fatalf("want exit 1 saying the next run resumes the import, got %s", r)
	}
	if strings.Contains(r.stderr, "ResumeImport") {
		t.Errorf("the message names a Go function:\n%s", lastError(r.stderr))
	}
	for range 2 {
		start := time.Now()
		r = w.exec(nil, "run", "--config", w.cfg)
		took := time.Since(start)
		msg := lastError(r.stderr)
		if r.code != exitRuntime {
			t.Fatalf("want exit 1 while the import hangs, got %s", r)
		}
		if took > 8*time.Second {
			t.Errorf("a run after the hung import took %s: it waited for the job again (jobTimeout 12s)", took.Round(time.Millisecond))
		}
		for _, want := range []string{"still IN_PROGRESS", "check the job in the tenant", "promoter resume --config " + w.cfg + " --pipeline dev-to-prod --job ", filepath.Join(".git", "promoter", "inflight-prod.json")} {
			if !strings.Contains(msg, want) {
				t.Errorf("the message does not say %q:\n%s", want, msg)
			}
		}
		if strings.Contains(r.stderr, "ResumeImport") {
			t.Errorf("the message names a Go function:\n%s", msg)
		}
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("real imports = %d, want 1 (the hung one)", n)
	}
	w.intact()
}

// loseImportAnswer lets prod start the real import but cuts the connection
// before its answer: promoter cannot know the job's id.
func loseImportAnswer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPost("/sp-config/import")(r) && r.URL.Query().Get("preview") == "false" {
			h.ServeHTTP(&captureWriter{header: http.Header{}}, r)
			panic(http.ErrAbortHandler)
		}
		h.ServeHTTP(w, r)
	})
}

// realImportJob returns the id of prod's one real import job.
func (w *e2e) realImportJob() string {
	w.t.Helper()
	var ids []string
	for _, j := range w.prod.Jobs() {
		if j.Type == spconfig.JobImport && !j.Preview {
			ids = append(ids, j.JobID)
		}
	}
	if len(ids) != 1 {
		w.t.Fatalf("prod ran %d real imports, want 1", len(ids))
	}
	return ids[0]
}

// TestReliabilityResumeCommandRecordsAnImportFoundInTheTenant (item 9): the
// answer to the real import request is lost, so the run leaves a marker
// without a job id and the next run stops naming promoter resume. The
// operator finds the job in the tenant and runs promoter resume --job: it
// checks the job, verifies the target, writes the record and moves applied;
// the next run has nothing to do and imports nothing. Without the marker
// (deleted, as the old procedure said) the command records the job against
// the branch tip; a second resume of the same job records nothing more; an
// unknown job is refused.
func TestReliabilityResumeCommandRecordsAnImportFoundInTheTenant(t *testing.T) {
	t.Parallel()
	for _, deleteMarker := range []bool{false, true} {
		name := "with the marker"
		if deleteMarker {
			name = "marker deleted"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{prod: tenantSetup{wrap: loseImportAnswer}})
			marker := filepath.Join(w.repo, ".git", "promoter", "inflight-prod.json")
			r := w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "outcome is unknown") {
				t.Fatalf("want exit 1 with the import's outcome unknown, got %s", r)
			}
			r = w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "promoter resume --config "+w.cfg+" --pipeline dev-to-prod --job ") {
				t.Fatalf("want the next run to stop naming promoter resume, got %s", r)
			}
			job := w.realImportJob()
			if deleteMarker {
				if err := os.Remove(marker); err != nil {
					t.Fatal(err)
				}
			}
			r = w.exec(nil, "resume", "--config", w.cfg, "--pipeline", "dev-to-prod", "--job", "no-such-job")
			if r.code == exitOK || !strings.Contains(lastError(r.stderr), "no-such-job") {
				t.Errorf("want resume of an unknown job refused naming it, got %s", r)
			}
			r = w.exec(nil, "resume", "--config", w.cfg, "--pipeline", "dev-to-prod", "--job", job)
			if r.code != exitOK || !strings.Contains(r.stdout, "dev-to-prod: imported (resumed)") {
				t.Fatalf("want promoter resume to record the job, got %s", r)
			}
			if n := w.importedRecords(); n != 1 {
				t.Errorf("import records = %d, want 1", n)
			}
			notes := w.git("log", "--all", "--notes=promoter", "--format=%N")
			if !strings.Contains(notes, `"importJob": "`+job+`"`) {
				t.Errorf("the record does not name job %s:\n%s", job, notes)
			}
			if applied, head := strings.TrimSpace(w.git("rev-parse", "refs/promoter/applied/prod")), w.head(); applied != head {
				t.Errorf("applied = %s, want the branch tip %s", applied, head)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("the marker is still there after the import was recorded")
			}
			r = w.exec(nil, "resume", "--config", w.cfg, "--pipeline", "dev-to-prod", "--job", job)
			if r.code != exitOK || w.importedRecords() != 1 {
				t.Errorf("a second resume of the same job: want exit 0 and still 1 record, got %d records, %s", w.importedRecords(), r)
			}
			r = w.exec(nil, "run", "--config", w.cfg)
			if r.code != exitOK || !strings.Contains(r.stdout, "dev-to-prod: nothing-to-do") {
				t.Errorf("want the run after resume to have nothing to do, got %s", r)
			}
			if n := w.realImports(); n != 1 {
				t.Errorf("real imports = %d, want 1", n)
			}
			w.intact()
			w.prodMatchesDev()
		})
	}
}

// TestReliabilityConfigAndHangingEndpoints (item 13): promoter run does not
// need the daemon's trigger token variable set; validate refuses a git://
// remote; an endpoint that accepts and never answers costs at most about
// jobTimeout, not minutes per attempt.
func TestReliabilityConfigAndHangingEndpoints(t *testing.T) {
	t.Parallel()
	t.Run("run without the trigger token variable", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{pipeline: "serve:\n  triggerTokenEnv: E2E_UNSET_TRIGGER_TOKEN\n"})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK {
			t.Fatalf("want run to import without serve.triggerTokenEnv set, got %s", r)
		}
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
		r = w.exec(nil, "serve", "--config", w.cfg, "--listen", "127.0.0.1:0")
		if r.code != exitUsage || !strings.Contains(r.stderr, "E2E_UNSET_TRIGGER_TOKEN") {
			t.Errorf("want serve to refuse the unset trigger token variable, got %s", r)
		}
	})
	t.Run("git:// remote", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{repo: "repo:\n  path: ./repo\n  remote: git://git.example.com/config.git\n"})
		r := w.exec(nil, "validate", "--config", w.cfg)
		if r.code != exitUsage || !strings.Contains(r.stderr, "repo.remote") || !strings.Contains(r.stderr, "git://") {
			t.Errorf("want validate to refuse the git:// remote naming repo.remote, got %s", r)
		}
	})
	t.Run("status endpoint that never answers", func(t *testing.T) {
		t.Parallel()
		hang := func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/sp-config/export/") && !strings.HasSuffix(r.URL.Path, "/download") {
					<-r.Context().Done()
					return
				}
				h.ServeHTTP(w, r)
			})
		}
		w := newWorld(t, worldOptions{pipeline: "    jobTimeout: 3s\n", dev: tenantSetup{wrap: hang}})
		w.raceChildren() // an attempt timeout cancelling a request in flight
		start := time.Now()
		r := w.exec(nil, "run", "--config", w.cfg)
		took := time.Since(start)
		if msg := lastError(r.stderr); r.code != exitRuntime || !strings.Contains(msg, "after 3s") && !strings.Contains(msg, "no answer from the tenant") {
			t.Fatalf("want exit 1 naming the timeout, got %s", r)
		}
		if took > 20*time.Second {
			t.Errorf("the run took %s against a jobTimeout of 3s", took.Round(time.Millisecond))
		}
		if h := w.head(); h != "" {
			t.Errorf("a timed-out export committed %s", h)
		}
	})
}

// gitIn runs git in dir and fails the test on error.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Other", "GIT_AUTHOR_EMAIL=other@example.com",
		"GIT_COMMITTER_NAME=Other", "GIT_COMMITTER_EMAIL=other@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestReliabilityRebaseOnPushMovesTheRecord (item 12): while a run imports,
// someone pushes a commit to the remote. When it touches other files, the
// run's push is rejected, its commits are rebased and pushed, and the import
// record (the note) moves with the rebased promotion commit: one record, on
// the commit applied names, none on a commit the branch no longer holds.
// When it touches a file the run committed too, the run fails giving the
// exact git command, which works without an upstream branch.
func TestReliabilityRebaseOnPushMovesTheRecord(t *testing.T) {
	t.Parallel()
	for _, conflict := range []bool{false, true} {
		name := "other files"
		if conflict {
			name = "same file"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			remote := filepath.Join(dir, "remote.git")
			other := filepath.Join(dir, "other")
			if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", remote).CombinedOutput(); err != nil {
				t.Fatalf("git init --bare: %v\n%s", err, out)
			}
			if out, err := exec.Command("git", "clone", "-q", remote, other).CombinedOutput(); err != nil {
				t.Fatalf("git clone: %v\n%s", err, out)
			}
			gitIn(t, other, "checkout", "-q", "-b", "main")
			if err := os.WriteFile(filepath.Join(other, "README.md"), []byte("config\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			gitIn(t, other, "add", "README.md")
			gitIn(t, other, "commit", "-q", "-m", "readme")
			gitIn(t, other, "push", "-q", "origin", "main")
			var world atomic.Pointer[e2e] // set once the world is built; read by the tenant's handler
			var pushed atomic.Bool
			pushMeanwhile := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if isPost("/sp-config/import")(r) && r.URL.Query().Get("preview") == "false" && !pushed.Swap(true) {
						path := "NOTES.md"
						if conflict {
							files := strings.Split(gitIn(t, world.Load().repo, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", "tenants/dev"), "\x00")
							path = files[0]
						}
						full := filepath.Join(other, filepath.FromSlash(path))
						_ = os.MkdirAll(filepath.Dir(full), 0o755)
						if err := os.WriteFile(full, []byte("{\"other\": true}\n"), 0o644); err != nil {
							t.Error(err)
						}
						gitIn(t, other, "add", "-A")
						gitIn(t, other, "commit", "-q", "-m", "meanwhile")
						gitIn(t, other, "push", "-q", "origin", "main")
					}
					h.ServeHTTP(rw, r)
				})
			}
			w := newWorld(t, worldOptions{repo: "repo:\n  path: ./repo\n  remote: " + remote + "\n", prod: tenantSetup{wrap: pushMeanwhile}})
			w.raceChildren() // a push (its pack is encoded beside the session) rejected and retried
			world.Store(w)
			r := w.exec(nil, "run", "--config", w.cfg)
			if !pushed.Load() {
				t.Fatalf("the concurrent push did not happen: %s", r)
			}
			if conflict {
				msg := lastError(r.stderr)
				want := "git -C " + w.repo + " pull --rebase origin main"
				if r.code != exitRuntime || !strings.Contains(msg, want) {
					t.Fatalf("want exit 1 giving %q, got %s", want, r)
				}
				if strings.Contains(msg, "(git pull --rebase)") {
					t.Errorf("the message still suggests a bare git pull --rebase:\n%s", msg)
				}
				cmd := exec.Command("sh", "-c", want)
				cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Op", "GIT_AUTHOR_EMAIL=op@example.com", "GIT_COMMITTER_NAME=Op", "GIT_COMMITTER_EMAIL=op@example.com")
				out, _ := cmd.CombinedOutput()
				if strings.Contains(string(out), "no tracking information") || !strings.Contains(string(out), "CONFLICT") {
					t.Errorf("the suggested command does not get as far as the conflict:\n%s", out)
				}
				return
			}
			if r.code != exitOK || !strings.Contains(r.stderr, "rebased local commits onto the remote") {
				t.Fatalf("want the run to rebase and push, got %s", r)
			}
			if n := w.importedRecords(); n != 1 {
				t.Errorf("import records = %d, want 1 for one import", n)
			}
			applied := strings.TrimSpace(w.git("rev-parse", "refs/promoter/applied/prod"))
			for line := range strings.Lines(w.git("notes", "--ref=promoter", "list")) {
				f := strings.Fields(line)
				if len(f) != 2 {
					continue
				}
				if _, err := exec.Command("git", "-C", w.repo, "merge-base", "--is-ancestor", f[1], "main").Output(); err != nil {
					t.Errorf("note on %s, a commit the branch no longer holds", f[1])
				}
				if note := w.git("notes", "--ref=promoter", "show", f[1]); strings.Contains(note, `"verdict": "imported"`) && f[1] != applied {
					t.Errorf("the import record is on %s, applied is %s", f[1], applied)
				}
			}
			if got := strings.Fields(gitIn(t, remote, "rev-parse", "main"))[0]; got != w.head() {
				t.Errorf("remote main %s, local %s", got, w.head())
			}
			if n := strings.Count(gitIn(t, remote, "notes", "--ref=promoter", "show", applied), `"verdict": "imported"`); n != 1 {
				t.Errorf("the remote's note on the applied commit holds %d imported records, want 1", n)
			}
			w.intact()
		})
	}
}
