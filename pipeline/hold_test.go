package pipeline

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"promoter/config"
	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

var holdT0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// holdGit runs the real git CLI with --git-dir or in a work tree.
func holdGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func holdOpen(t *testing.T, path, remote string) *gitstore.Repo {
	t.Helper()
	r, err := gitstore.Open(context.Background(), gitstore.Options{Path: path, Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHoldSetListRelease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := holdOpen(t, filepath.Join(dir, "repo"), "")
	ref := HoldRefPrefix + "dev-to-prod"

	if hs, err := Holds(store); err != nil || len(hs) != 0 {
		t.Fatalf("Holds on a fresh repository = %v, %v; want none", hs, err)
	}
	if err := SetHold(ctx, store, "dev-to-prod", "  ", "ann", holdT0); err == nil || !strings.Contains(err.Error(), "reason is required") {
		t.Errorf("SetHold without reason: err %v, want a reason-required error", err)
	}

	type step struct {
		name    string
		do      func() error
		want    []Hold
		commits int // commits on the hold ref afterwards
	}
	var released *Hold
	steps := []step{
		{"hold", func() error { return SetHold(ctx, store, "dev-to-prod", "change freeze", "ann", holdT0) },
			[]Hold{{Pipeline: "dev-to-prod", Reason: "change freeze", By: "ann", Since: holdT0}}, 1},
		{"same hold again keeps its time", func() error {
			return SetHold(ctx, store, "dev-to-prod", "change freeze", "ann", holdT0.Add(time.Hour))
		}, []Hold{{Pipeline: "dev-to-prod", Reason: "change freeze", By: "ann", Since: holdT0}}, 1},
		{"second pipeline", func() error { return SetHold(ctx, store, "qa-to-prod", "audit", "bob", holdT0.Add(time.Minute)) },
			[]Hold{
				{Pipeline: "dev-to-prod", Reason: "change freeze", By: "ann", Since: holdT0},
				{Pipeline: "qa-to-prod", Reason: "audit", By: "bob", Since: holdT0.Add(time.Minute)},
			}, 1},
		{"new reason replaces the hold", func() error {
			return SetHold(ctx, store, "dev-to-prod", "freeze until Monday", "cy", holdT0.Add(2*time.Hour))
		}, []Hold{
			{Pipeline: "dev-to-prod", Reason: "freeze until Monday", By: "cy", Since: holdT0.Add(2 * time.Hour)},
			{Pipeline: "qa-to-prod", Reason: "audit", By: "bob", Since: holdT0.Add(time.Minute)},
		}, 2},
		{"release", func() error {
			var err error
			released, err = ReleaseHold(ctx, store, "dev-to-prod", "dee", holdT0.Add(3*time.Hour))
			if released == nil || released.Reason != "freeze until Monday" {
				return fmt.Errorf("released = %+v, want the hold it released", released)
			}
			return err
		}, []Hold{{Pipeline: "qa-to-prod", Reason: "audit", By: "bob", Since: holdT0.Add(time.Minute)}}, 3},
		{"release again is a no-op", func() error {
			h, err := ReleaseHold(ctx, store, "dev-to-prod", "dee", holdT0.Add(4*time.Hour))
			if h != nil {
				return fmt.Errorf("second release released %+v", h)
			}
			return err
		}, []Hold{{Pipeline: "qa-to-prod", Reason: "audit", By: "bob", Since: holdT0.Add(time.Minute)}}, 3},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, err := Holds(store)
		if err != nil {
			t.Fatalf("%s: Holds: %v", s.name, err)
		}
		if d := cmp.Diff(s.want, got); d != "" {
			t.Errorf("%s: holds (-want +got):\n%s", s.name, d)
		}
		if n := holdGit(t, store.Path(), "rev-list", "--count", ref); n != fmt.Sprint(s.commits) {
			t.Errorf("%s: %s has %s commits, want %d", s.name, ref, n, s.commits)
		}
	}
	// The history is readable with git and says who released it.
	doc := holdGit(t, store.Path(), "show", ref+":hold.json")
	for _, want := range []string{`"held": false`, `"releasedBy": "dee"`, `"reason": "freeze until Monday"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("hold.json after release lacks %s:\n%s", want, doc)
		}
	}
	if log := holdGit(t, store.Path(), "log", "--format=%s", ref); log != "Release dev-to-prod\nHold dev-to-prod: freeze until Monday\nHold dev-to-prod: change freeze" {
		t.Errorf("hold history:\n%s", log)
	}
	if st := holdGit(t, store.Path(), "status", "--porcelain"); st != "" {
		t.Errorf("holds touched the working tree:\n%s", st)
	}
	holdGit(t, store.Path(), "fsck", "--strict")
}

// TestHoldVisibleFromSecondClone holds in one clone and reads, releases and
// re-reads through a bare remote from another.
func TestHoldVisibleFromSecondClone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bare := filepath.Join(dir, "remote.git")
	holdGit(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	a := holdOpen(t, filepath.Join(dir, "a"), bare)
	// The branch exists too, as in real use.
	if _, err := a.Commit(ctx, gitstore.CommitSpec{Message: "init", Changes: []gitstore.Change{{Path: "README.md", Content: []byte("hi\n")}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if err := SetHold(ctx, a, "dev-to-prod", "incident 42", "ann", holdT0); err != nil {
		t.Fatal(err)
	}
	if got := holdGit(t, dir, "--git-dir", bare, "show", "refs/promoter/hold/dev-to-prod:hold.json"); !strings.Contains(got, `"reason": "incident 42"`) {
		t.Fatalf("the bare remote does not hold the hold:\n%s", got)
	}

	b := holdOpen(t, filepath.Join(dir, "b"), bare) // fresh: cloned
	want := []Hold{{Pipeline: "dev-to-prod", Reason: "incident 42", By: "ann", Since: holdT0}}
	got, err := Holds(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("second clone's holds (-want +got):\n%s", d)
	}

	if _, err := ReleaseHold(ctx, b, "dev-to-prod", "bob", holdT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// a still sees the hold until it syncs, as every flow does first.
	if got, _ := Holds(a); len(got) != 1 {
		t.Fatalf("a before sync: %v", got)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := Holds(a); err != nil || len(got) != 0 {
		t.Fatalf("a after sync sees holds %v (err %v); the release did not propagate", got, err)
	}
	// and a new hold from a fast-forwards on the remote again.
	if err := SetHold(ctx, a, "dev-to-prod", "again", "ann", holdT0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := holdGit(t, dir, "--git-dir", bare, "rev-list", "--count", "refs/promoter/hold/dev-to-prod"); n != "3" {
		t.Errorf("remote hold history has %s commits, want 3 (hold, release, hold)", n)
	}
	holdGit(t, dir, "--git-dir", bare, "fsck", "--strict")
}

// TestHoldBlocksGate runs the pipeline against fake tenants: while held the
// run exports, snapshots and proposes but imports nothing; after release it
// imports.
func TestHoldBlocksGate(t *testing.T) {
	ctx := context.Background()
	srv := map[string]*spconfigtest.Server{}
	for _, name := range []string{"dev", "prod"} {
		seed, err := spconfigtest.SampleExport(name)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := spconfigtest.SampleIdentities(name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: seed, Identities: ids, ClientID: name, ClientSecret: name + "-secret"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srv[name] = s
	}
	srv["prod"].AddIdentity("Imogene Mendez") // the samples' one blocker
	dir := t.TempDir()
	yaml := fmt.Sprintf(`repo:
  path: %s
tenants:
  dev: {baseURL: %s, clientIDEnv: DEV_ID, clientSecretEnv: DEV_SECRET}
  prod: {baseURL: %s, clientIDEnv: PROD_ID, clientSecretEnv: PROD_SECRET}
pipelines:
  - name: dev-to-prod
    source: dev
    target: prod
    exclude: [{type: AUTH_ORG}]
    gate: {allowWarnings: ["^Object to be imported"]}
`, filepath.Join(dir, "repo"), srv["dev"].URL, srv["prod"].URL)
	cfg, err := config.Parse(filepath.Join(dir, "promotion.yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEV_ID": "dev", "DEV_SECRET": "dev-secret", "PROD_ID": "prod", "PROD_SECRET": "prod-secret"}
	sec, err := cfg.ResolveSecrets(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(ctx, cfg, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(cfg, sec, "", store, Env{})
	if err != nil {
		t.Fatal(err)
	}
	r.Wait = spconfig.WaitOptions{MinInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond}
	realImports := func() int {
		n := 0
		for _, j := range srv["prod"].Jobs() {
			if j.Type == spconfig.JobImport && !j.Preview {
				n++
			}
		}
		return n
	}

	if err := SetHold(ctx, store, "dev-to-prod", "prod change freeze", "ann", holdT0); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx, RunOptions{})
	if !IsBlocked(err) {
		t.Fatalf("run while held: err %v, want blocked", err)
	}
	wantReason := "pipeline dev-to-prod is held by ann since 2025-03-14T09:30:00Z: prod change freeze; run promoter release dev-to-prod"
	if d := cmp.Diff([]string{wantReason}, res.Plan.Blocked); d != "" {
		t.Errorf("blocked reasons (-want +got):\n%s", d)
	}
	if n := realImports(); n != 0 {
		t.Fatalf("a held pipeline imported %d times", n)
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, s.Name+":"+s.Outcome)
	}
	for _, want := range []string{"snapshot:committed", "propose:committed", "gate:blocked"} {
		if !strings.Contains(strings.Join(steps, " "), want) {
			t.Errorf("steps %v lack %s: export, snapshot and propose must still run while held", steps, want)
		}
	}

	if _, err := ReleaseHold(ctx, store, "dev-to-prod", "bob", holdT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, err = r.Run(ctx, RunOptions{})
	if err != nil || res.Outcome != OutcomeImported {
		t.Fatalf("run after release: outcome %v, err %v; want imported", res.Outcome, err)
	}
	if n := realImports(); n != 1 {
		t.Errorf("real imports after release = %d, want 1", n)
	}

	// A hold that cannot be read blocks too, and release clears it.
	if _, err := store.CommitRef(ctx, HoldRefPrefix+"dev-to-prod", "garbage\n", []gitstore.Change{{Path: "hold.json", Content: []byte("{not json")}}); err != nil {
		t.Fatal(err)
	}
	if got := r.holdReasons(); len(got) != 1 || !strings.Contains(got[0], "cannot be read") || !strings.Contains(got[0], "promoter release dev-to-prod") {
		t.Errorf("unreadable hold: reasons %q, want one that blocks and says how to release", got)
	}
	if _, err := ReleaseHold(ctx, store, "dev-to-prod", "bob", holdT0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := r.holdReasons(); len(got) != 0 {
		t.Errorf("after releasing a damaged hold: reasons %q", got)
	}
}
