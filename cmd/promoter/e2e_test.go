package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"promoter/diff"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// The end-to-end tests build the real binary once and drive it against fake
// tenants on 127.0.0.1, reading what it wrote with the real git CLI.

// promoterBin is the end-to-end binary most tests run: built without the
// race detector, since a -race child costs four to ten times the CPU of a
// plain one and the library packages' own tests (go test -race) look for
// races in the code it runs. The tests where concurrency in the shipped
// binary is the point run raceBin instead (racePromoterCommand).
var promoterBin string

// binDir is the folder of promoterBin and raceBin.
var binDir string

// raceBin is promoterBin built with -race, once, by the first test that asks
// for it (racePromoterCommand), and only when the test binary is
// race-enabled (raceEnabled: go test -race): a plain go test runs those
// tests on promoterBin.
var raceBin struct {
	once sync.Once
	path string
	err  error
}

// coverDirEnv names the opt-in to coverage of the end-to-end binary: when it
// holds a folder, TestMain builds promoterBin with -cover for every package
// of the module and each child writes its counters there (GOCOVERDIR), for
// go tool covdata to read (.ci/run merges them with the test binaries'
// profile). Unset, the binary has no coverage instrumentation.
const coverDirEnv = "PROMOTER_COVERDIR"

// coverDir is the absolute folder of coverDirEnv, "" when coverage is off.
var coverDir string

// e2eParallel is how many parallel tests this package runs at once unless
// go test is given -parallel: its tests mostly wait on child processes,
// fake tenants and git, so the default (GOMAXPROCS) left two cores idle
// while two tests slept on a job timeout or a slow download.
const e2eParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", strconv.Itoa(max(e2eParallel, runtime.GOMAXPROCS(0))))
	}
	var err error
	if binDir, err = os.MkdirTemp("", "promoter-e2e-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if d := os.Getenv(coverDirEnv); d != "" {
		if coverDir, err = filepath.Abs(d); err == nil {
			err = os.MkdirAll(coverDir, 0o755)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", coverDirEnv, err)
			os.Exit(1)
		}
	}
	promoterBin = filepath.Join(binDir, "promoter")
	if err := buildPromoter(promoterBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// buildPromoter builds the end-to-end binary at path with extra build flags
// (-race): with the crash hook, and with coverage when coverDir is set.
func buildPromoter(path string, extra ...string) error {
	// crashtest compiles the crash hook (crash.go) the reliability tests use.
	args := append(append([]string{"build"}, extra...), "-tags", "crashtest")
	if coverDir != "" {
		// the module's packages by import path: ./... would mean
		// cmd/promoter/... here
		args = append(args, "-cover", "-coverpkg=promoter/...")
		if mode := testing.CoverMode(); mode != "" {
			args = append(args, "-covermode="+mode)
		}
	}
	args = append(args, "-o", path, ".")
	build := exec.Command("go", args...)
	build.Env = append(os.Environ(), "GOFLAGS="+withoutCoverFlags(os.Getenv("GOFLAGS")))
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build promoter %v: %v\n%s", extra, err, out)
	}
	return nil
}

// withoutCoverFlags returns goflags without its -cover flags: CI turns
// coverage on through GOFLAGS, which go build would apply to the end-to-end
// binary too, and a binary built with -cover but run without GOCOVERDIR
// warns on stderr. The binary has coverage only with coverDirEnv.
func withoutCoverFlags(goflags string) string {
	return strings.Join(slices.DeleteFunc(strings.Fields(goflags), func(f string) bool {
		return strings.HasPrefix(f, "-cover") || strings.HasPrefix(f, "--cover")
	}), " ")
}

// promoterCommand returns a command running the end-to-end binary with args
// and the environment env (nil: this process's). Every test that runs
// promoterBin builds its command here or in racePromoterCommand, so that
// with coverDirEnv set each child gets GOCOVERDIR whatever environment the
// test gives it.
func promoterCommand(env []string, args ...string) *exec.Cmd {
	return binaryCommand(promoterBin, env, args)
}

// racePromoterCommand is promoterCommand for the tests where concurrency in
// the shipped binary is the point (the daemon, signals, two processes on one
// repository, timeouts that cancel requests in flight, the in-process demo
// tenants, a push racing its pack encoder): under go test -race it runs
// raceBin, built on first use (the test fails if that build does); under a
// plain go test, promoterBin.
func racePromoterCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	if !raceEnabled {
		return promoterCommand(env, args...)
	}
	raceBin.once.Do(func() {
		raceBin.path = filepath.Join(binDir, "promoter-race")
		raceBin.err = buildPromoter(raceBin.path, "-race")
	})
	if raceBin.err != nil {
		t.Fatal(raceBin.err)
	}
	return binaryCommand(raceBin.path, env, args)
}

func binaryCommand(bin string, env []string, args []string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = env
	if coverDir != "" {
		cmd.Env = append(slices.Clip(env), "GOCOVERDIR="+coverDir)
	}
	return cmd
}

// TestEveryChildGoesThroughPromoterCommand: no test file but this one names
// promoterBin or raceBin, so every child is started by promoterCommand or
// racePromoterCommand and, with coverDirEnv set, writes its coverage.
func TestEveryChildGoesThroughPromoterCommand(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) < 2 {
		t.Fatalf("test files: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"promoterBin", "raceBin", "binaryCommand"} {
			if f != "e2e_test.go" && strings.Contains(string(data), name) {
				t.Errorf("%s uses %s; start the binary with promoterCommand or racePromoterCommand", f, name)
			}
		}
	}
}

// sharedSamples returns ../shared/samples, or skips when it is absent.
func sharedSamples(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../../shared/samples")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("../shared/samples not present (%v)", err)
	}
	return dir
}

// e2e is one scenario's world: two fake tenants, a folder, a configuration.
type e2e struct {
	t         *testing.T
	dir       string
	repo      string
	cfg       string
	env       []string
	dev, prod *spconfigtest.Server
	// race: the world's children run raceBin (raceChildren).
	race bool
}

// raceChildren makes every child of the world run the -race binary under go
// test -race (racePromoterCommand says which tests do).
func (w *e2e) raceChildren() { w.race = true }

// command returns the command of one child of the world.
func (w *e2e) command(env []string, args ...string) *exec.Cmd {
	w.t.Helper()
	if w.race {
		return racePromoterCommand(w.t, env, args...)
	}
	return promoterCommand(env, args...)
}

const e2eConfig = `repo:
  path: ./repo
tenants:
  dev:
    baseURL: %s
    clientIDEnv: E2E_DEV_ID
    clientSecretEnv: E2E_DEV_SECRET
  prod:
    baseURL: %s
    clientIDEnv: E2E_PROD_ID
    clientSecretEnv: E2E_PROD_SECRET
pipelines:
  - name: dev-to-prod
    source: dev
    target: prod
    exclude:
      - type: AUTH_ORG
    gate:
      allowWarnings: ["^Object to be imported"]
`

func newE2E(t *testing.T, extraConfig string) *e2e {
	t.Helper()
	samples := sharedSamples(t)
	w := &e2e{t: t, dir: t.TempDir()}
	w.repo = filepath.Join(w.dir, "repo")
	for _, name := range []string{"dev", "prod"} {
		srv, err := spconfigtest.Start("127.0.0.1:0", sampleOptions(t, samples, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if name == "dev" {
			w.dev = srv
		} else {
			w.prod = srv
		}
	}
	w.cfg = filepath.Join(w.dir, "promotion.yaml")
	cfg := fmt.Sprintf(e2eConfig, w.dev.URL, w.prod.URL) + extraConfig
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = append(os.Environ(),
		"E2E_DEV_ID=dev-id", "E2E_DEV_SECRET=dev-secret-XYZZY",
		"E2E_PROD_ID=prod-id", "E2E_PROD_SECRET=prod-secret-XYZZY",
		"NO_COLOR=1")
	return w
}

// sampleOptions seeds a fake tenant "dev" or "prod" from ../shared/samples
// with the client credentials the e2e configuration names.
func sampleOptions(t *testing.T, samples, name string) spconfigtest.Options {
	t.Helper()
	seed, err := os.ReadFile(filepath.Join(samples, "tenant-"+name+".export.json"))
	if err != nil {
		t.Fatal(err)
	}
	idb, err := os.ReadFile(filepath.Join(samples, "tenant-"+name+".identities.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []spconfigtest.Identity
	if err := json.Unmarshal(idb, &ids); err != nil {
		t.Fatal(err)
	}
	return spconfigtest.Options{Seed: seed, Identities: ids, ClientID: name + "-id", ClientSecret: name + "-secret-XYZZY", JobDelay: 0}
}

// editObject changes one object of a fake tenant, as an edit in the
// product's UI would; it fails the test when the object or the text is missing.
func (w *e2e) editObject(srv *spconfigtest.Server, typ, name, old, new string) {
	w.t.Helper()
	for _, e := range srv.Objects(typ) {
		if e.Key().Name != name {
			continue
		}
		obj := strings.Replace(string(e.Object()), old, new, 1)
		if obj == string(e.Object()) {
			w.t.Fatalf("%s %s has no %q to replace", typ, name, old)
		}
		ne, err := e.WithObject([]byte(obj))
		if err != nil {
			w.t.Fatal(err)
		}
		if err := srv.PutObject(ne); err != nil {
			w.t.Fatal(err)
		}
		return
	}
	w.t.Fatalf("fake tenant has no %s %s", typ, name)
}

// promoter runs the binary in the scenario's folder and returns stdout,
// stderr and the exit code.
func (w *e2e) promoter(args ...string) (string, string, int) {
	w.t.Helper()
	return w.promoterIn(w.dir, args...)
}

// promoterIn is promoter with working directory dir.
func (w *e2e) promoterIn(dir string, args ...string) (string, string, int) {
	w.t.Helper()
	cmd := w.command(w.env, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("run promoter %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// mustPromoter runs the binary and fails unless it exits with want.
func (w *e2e) mustPromoter(want int, args ...string) string {
	w.t.Helper()
	out, errOut, code := w.promoter(args...)
	if code != want {
		w.t.Fatalf("promoter %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

// git runs the real git CLI in the repository.
func (w *e2e) git(args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = w.repo
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// realImports counts the non-preview import jobs the prod fake ran.
func (w *e2e) realImports() int {
	n := 0
	for _, j := range w.prod.Jobs() {
		if j.Type == spconfig.JobImport && !j.Preview {
			n++
		}
	}
	return n
}

// prodMatchesDev checks that every importable object of dev is in prod with
// equal content (cross-tenant rules: references by name).
func (w *e2e) prodMatchesDev() {
	w.t.Helper()
	prod := map[spconfig.Key]spconfig.Entry{}
	for _, e := range w.prod.Objects("") {
		prod[e.Key()] = e
	}
	n := 0
	for _, d := range w.dev.Objects("") {
		if !spconfig.Importable(d.Type()) {
			continue
		}
		n++
		p, ok := prod[d.Key()]
		if !ok {
			w.t.Errorf("%s is in dev but not in prod", d.Key())
			continue
		}
		if changes, err := objectChanges(p, d); err != nil || len(changes) > 0 {
			w.t.Errorf("%s differs between prod and dev: %+v (err %v)", d.Key(), changes, err)
		}
	}
	if n == 0 {
		w.t.Fatal("dev has no importable objects: the check would prove nothing")
	}
}

// objectChanges compares one object of two tenants as a plan does; no
// change means the target matches.
func objectChanges(a, b spconfig.Entry) ([]diff.Change, error) {
	r, err := diff.Compare([]spconfig.Entry{a}, []spconfig.Entry{b}, diff.Options{CrossTenant: true})
	return r.Changes, err
}

func (w *e2e) adminPost(srv *spconfigtest.Server, path, body string) {
	w.t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// TestPromotionBlockedThenImportedThenRevertedAndApplied is the main story of
// issue 6, end to end through the real binary and the real git CLI.
func TestPromotionBlockedThenImportedThenRevertedAndApplied(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")

	// 1. The first promotion is blocked by the ServiceNow owner missing in prod.
	out := w.mustPromoter(exitBlocked, "run", "--config", w.cfg)
	if !strings.Contains(out, "Imogene Mendez") {
		t.Errorf("blocked run does not name the missing identity:\n%s", out)
	}
	if n := w.realImports(); n != 0 {
		t.Fatalf("blocked run imported %d times", n)
	}

	// 2. After the identity is added, the run imports exactly once.
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if n := w.realImports(); n != 1 {
		t.Fatalf("real imports after the clean run = %d, want 1", n)
	}
	w.prodMatchesDev()
	note := w.git("notes", "--ref=promoter", "show", "refs/promoter/applied/prod")
	if !strings.Contains(note, `"importJob"`) || !strings.Contains(note, `"verdict": "imported"`) {
		t.Errorf("import record note lacks the job or verdict:\n%s", note)
	}

	// 3. A second run with nothing changed makes no commit and no import.
	head := w.git("rev-parse", "HEAD")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.git("rev-parse", "HEAD"); got != head {
		t.Errorf("unchanged run moved HEAD %s -> %s", head, got)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("unchanged run imported: %d real imports", n)
	}

	// 4. A dev change is promoted; reverting its promotion commit with the git
	// CLI and applying restores prod.
	var before spconfig.Entry
	for _, e := range w.prod.Objects("TRANSFORM") {
		if e.Key().Name == "Get Worker Type" {
			before = e
		}
	}
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if n := w.realImports(); n != 2 {
		t.Fatalf("real imports after the dev change = %d, want 2", n)
	}
	promotion := w.git("log", "-1", "--format=%H", "--grep=^Promote", "--", "tenants/prod")
	w.git("revert", "--no-edit", promotion)
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if n := w.realImports(); n != 3 {
		t.Fatalf("real imports after revert+apply = %d, want 3", n)
	}
	for _, e := range w.prod.Objects("TRANSFORM") {
		if e.Key().Name == "Get Worker Type" {
			if changes, err := objectChanges(before, e); err != nil || len(changes) > 0 {
				t.Errorf("prod Get Worker Type not restored by revert+apply: %s", e.Object())
			}
		}
	}

	// 5. The revert sticks: the next run offers nothing again.
	head = w.git("rev-parse", "HEAD")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.git("rev-parse", "HEAD"); got != head {
		t.Errorf("run after revert moved HEAD (re-offered the reverted change?): %s", w.git("log", "--oneline", head+".."+got))
	}
	if n := w.realImports(); n != 3 {
		t.Errorf("run after revert imported again: %d real imports", n)
	}
	if st := w.git("status", "--porcelain"); st != "" {
		t.Errorf("working tree not clean after runs:\n%s", st)
	}
	w.git("fsck", "--strict")
}

// TestPlanMarkdownOnPullRequestRevisionMatchesDiff checks that the pull-request
// plan shows the same objects as the diff package computes.
func TestPlanMarkdownOnPullRequestRevisionMatchesDiff(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)

	// A pull request edits a transform in the target folder.
	w.git("checkout", "-q", "-b", "pr")
	path := filepath.Join(w.repo, "tenants", "prod", "TRANSFORM", "Lowercase Email.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"mail"`, `"userPrincipalName"`, 1)
	if edited == string(data) {
		t.Fatal("sample Lowercase Email transform has no \"mail\" attribute to edit")
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	w.git("commit", "-q", "-am", "Use userPrincipalName for the lowercase email")
	w.git("checkout", "-q", "main")

	out := w.mustPromoter(exitOK, "plan", "--config", w.cfg, "--rev", "pr", "--format", "markdown")
	if !strings.Contains(out, "Lowercase Email") || !strings.Contains(out, "userPrincipalName") {
		t.Errorf("markdown plan does not show the pull request's change:\n%s", out)
	}
	jsonOut := w.mustPromoter(exitOK, "plan", "--config", w.cfg, "--rev", "pr", "--format", "json")
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		Plan          struct {
			Items []struct {
				Object string `json:"object"`
				Class  string `json:"class"`
			} `json:"items"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
		t.Fatalf("plan --format json is not JSON: %v\n%s", err, jsonOut)
	}
	var toImport []string
	for _, it := range doc.Plan.Items {
		if it.Class == "apply" {
			toImport = append(toImport, it.Object)
		}
	}
	if len(toImport) != 1 || toImport[0] != "TRANSFORM Lowercase Email" {
		t.Errorf("plan imports %v, want exactly [TRANSFORM Lowercase Email]", toImport)
	}
	// Every change the diff package sees between live prod and the pull
	// request's desired state appears in the Markdown plan.
	var desired []spconfig.Entry
	for _, e := range w.prod.Objects("") {
		if e.Key().Name == "Lowercase Email" {
			ne, err := e.WithObject([]byte(strings.Replace(string(e.Object()), `"mail"`, `"userPrincipalName"`, 1)))
			if err != nil {
				t.Fatal(err)
			}
			e = ne
		}
		desired = append(desired, e)
	}
	res, err := diff.Compare(w.prod.Objects(""), desired, diff.Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) == 0 {
		t.Fatal("diff package found no change: the comparison proves nothing")
	}
	for _, c := range res.Changes {
		if c.Kind == diff.Unchanged {
			continue
		}
		if !strings.Contains(out, c.Key.Name) {
			t.Errorf("markdown plan misses %s that the diff package reports", c.Key)
		}
		for _, f := range c.Fields {
			if !strings.Contains(out, f.Path) && !strings.Contains(out, strings.TrimPrefix(f.Path, "$")) {
				t.Errorf("markdown plan misses field %s of %s", f.Path, c.Key)
			}
		}
	}
}

// waitReady polls a URL until it answers 200 (bounded).
func waitReady(t *testing.T, url string) {
	t.Helper()
	for range 100 {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

// TestRollbackCommandRevertsShowsPlanAndApplies drives `promoter rollback`:
// it reverts the promotion commits after REV, prints the plan and imports it.
func TestRollbackCommandRevertsShowsPlanAndApplies(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	good := w.git("rev-parse", "HEAD")
	var before spconfig.Entry
	for _, e := range w.prod.Objects("TRANSFORM") {
		if e.Key().Name == "Get Worker Type" {
			before = e
		}
	}
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if n := w.realImports(); n != 2 {
		t.Fatalf("real imports before the rollback = %d, want 2", n)
	}
	if _, _, code := w.promoter("rollback", "--config", w.cfg, "--to", good); code != exitUsage {
		t.Errorf("rollback without --pipeline: exit %d, want 2", code)
	}
	out := w.mustPromoter(exitOK, "rollback", "--config", w.cfg, "--pipeline", "dev-to-prod", "--to", good)
	if !strings.Contains(out, "Rollback plan") || !strings.Contains(out, "TRANSFORM Get Worker Type") {
		t.Errorf("rollback did not show the plan:\n%s", out)
	}
	if n := w.realImports(); n != 3 {
		t.Fatalf("real imports after the rollback = %d, want 3", n)
	}
	if subject := w.git("log", "-1", "--format=%s"); !strings.HasPrefix(subject, "Revert ") {
		t.Errorf("the rollback is not a revert commit: %q", subject)
	}
	if diff := w.git("diff", good, "HEAD", "--", "tenants/prod"); diff != "" {
		t.Errorf("tenants/prod after the rollback differs from %s:\n%s", good, diff)
	}
	for _, e := range w.prod.Objects("TRANSFORM") {
		if e.Key().Name == "Get Worker Type" {
			if changes, err := objectChanges(before, e); err != nil || len(changes) > 0 {
				t.Errorf("prod Get Worker Type not restored by the rollback: %s", e.Object())
			}
		}
	}
	// Nothing is offered again.
	head := w.git("rev-parse", "HEAD")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.git("rev-parse", "HEAD"); got != head || w.realImports() != 3 {
		t.Errorf("the run after the rollback committed or imported again")
	}
}
