package gitstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
)

// gitEnv isolates the git CLI from the machine's configuration.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=Tester", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=Tester", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_TERMINAL_PROMPT=0")
}

// gitCmd runs the real git CLI in dir and returns stdout.
func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitTry(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func gitTry(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(os.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git CLI not on PATH")
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func openTest(t testing.TB, o Options) *Repo {
	t.Helper()
	needGit(t)
	if o.Path == "" {
		o.Path = filepath.Join(t.TempDir(), "repo")
	}
	if o.Now == nil {
		c := &clock{t: time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC)}
		o.Now = c.now
	}
	r, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fsck(t testing.TB, dir string) {
	t.Helper()
	gitCmd(t, dir, "fsck", "--strict", "--no-dangling")
}

func clean(t testing.TB, dir string) {
	t.Helper()
	if out := gitCmd(t, dir, "status", "--porcelain", "--untracked-files=all"); out != "" {
		t.Fatalf("working tree differs from HEAD:\n%s", out)
	}
}

func sampleEntries(t testing.TB, name string) []spconfig.Entry {
	return loadSample(t, name).Objects
}

func typesOf(es []spconfig.Entry) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range es {
		if !seen[e.Self.Type] {
			seen[e.Self.Type] = true
			out = append(out, e.Self.Type)
		}
	}
	return out
}

func TestWriteTenantReadByGitCLI(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	dev := sampleEntries(t, "dev")
	h, err := r.WriteTenant(ctx, "dev", spconfig.ExportableTypes(), dev, CommitSpec{Message: "Snapshot dev", Trailers: [][2]string{{"Promoter-Export-Job", "job-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if h.IsZero() {
		t.Fatal("first snapshot made no commit")
	}
	fsck(t, r.Path())
	clean(t, r.Path())
	if got := strings.TrimSpace(gitCmd(t, r.Path(), "rev-parse", "HEAD")); got != h.String() {
		t.Fatalf("git HEAD = %s, Commit returned %s", got, h)
	}
	msg := gitCmd(t, r.Path(), "log", "-1", "--format=%B")
	if !strings.Contains(msg, "Snapshot dev\n\nPromoter-Export-Job: job-1") {
		t.Errorf("commit message as git shows it:\n%s", msg)
	}
	if tr := gitCmd(t, r.Path(), "log", "-1", "--format=%(trailers:key=Promoter-Export-Job,valueonly)"); strings.TrimSpace(tr) != "job-1" {
		t.Errorf("git reads trailer %q", tr)
	}
	info, err := r.CommitInfo(h)
	if err != nil || info.Trailers["Promoter-Export-Job"] != "job-1" {
		t.Errorf("CommitInfo = %+v, %v", info, err)
	}
	files := strings.Fields(strings.ReplaceAll(gitCmd(t, r.Path(), "ls-files", "-z"), "\x00", "\n"))
	_ = files
	count := strings.Count(gitCmd(t, r.Path(), "ls-files", "-z"), "\x00")
	if count != len(dev) {
		t.Errorf("git ls-files lists %d files, want %d", count, len(dev))
	}
	back, err := r.ReadTenant(h, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(dev) {
		t.Fatalf("ReadTenant: %d files, want %d", len(back), len(dev))
	}
	want := compactAll(dev)
	for _, f := range back {
		if !want[string(f.Entry.Raw)] {
			t.Errorf("%s: entry bytes changed", f.Path)
		}
		disk, err := os.ReadFile(filepath.Join(r.Path(), filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(disk, f.Data) {
			t.Errorf("%s: working file differs from the commit (%v)", f.Path, err)
		}
	}

	// re-export unchanged, with only volatile fields changed: no commit, no file rewritten
	touched := make([]spconfig.Entry, len(dev))
	for i, e := range dev {
		touched[i] = e
		if e.Self.Type == "ROLE" && !e.Signed() {
			obj := bytes.Replace(e.Object(), []byte(`"modified":"`), []byte(`"modified":"1`), 1)
			if ne, err := e.WithObject(obj); err == nil {
				touched[i] = ne
			}
		}
	}
	before := statAll(t, r.Path())
	h2, err := r.WriteTenant(ctx, "dev", spconfig.ExportableTypes(), touched, CommitSpec{Message: "again"})
	if err != nil || !h2.IsZero() {
		t.Fatalf("unchanged re-export: commit %s, err %v; want no commit", h2, err)
	}
	if after := statAll(t, r.Path()); after != before {
		t.Errorf("unchanged re-export rewrote files")
	}

	// change one object, drop one: one commit, git diff shows exactly those
	changed := append([]spconfig.Entry(nil), dev[1:]...)
	var target string
	for i, e := range changed {
		if e.Self.Type == "TRANSFORM" {
			ne, err := e.WithObject(append(bytes.TrimSuffix(e.Object(), []byte("}")), []byte(`,"extra":true}`)...))
			if err != nil {
				t.Fatal(err)
			}
			changed[i] = ne
			target = e.Key().Name
			break
		}
	}
	h3, err := r.WriteTenant(ctx, "dev", spconfig.ExportableTypes(), changed, CommitSpec{Message: "change"})
	if err != nil || h3.IsZero() {
		t.Fatalf("change: %s %v", h3, err)
	}
	fsck(t, r.Path())
	clean(t, r.Path())
	diff := gitCmd(t, r.Path(), "diff", "--name-status", h.String(), h3.String())
	if lines := strings.Split(strings.TrimSpace(diff), "\n"); len(lines) != 2 || !strings.Contains(diff, target) {
		t.Errorf("git diff --name-status:\n%s\nwant 2 lines, one naming %s", diff, target)
	}
	paths, err := r.ChangedPaths(h, h3, "tenants/dev")
	if err != nil || len(paths) != 2 {
		t.Errorf("ChangedPaths = %v, %v; want 2 paths", paths, err)
	}
	all, err := r.ChangedPaths(Hash{}, h3, "tenants")
	if err != nil || len(all) != len(changed) {
		t.Errorf("ChangedPaths from zero: %d paths, %v; want %d", len(all), err, len(changed))
	}
}

func statAll(t testing.TB, dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.Contains(p, string(filepath.Separator)+".git"+string(filepath.Separator)) {
			return nil
		}
		fi, _ := d.Info()
		fmt.Fprintf(&b, "%s %d %d\n", p, fi.ModTime().UnixNano(), fi.Size())
		return nil
	})
	return b.String()
}

func TestGitCLIRevertReadBack(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	dev := sampleEntries(t, "dev")
	h1, err := r.WriteTenant(ctx, "prod", typesOf(dev), dev, CommitSpec{Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	mod := append([]spconfig.Entry(nil), dev...)
	mod[0], err = mod[0].WithObject([]byte(`{"name":"` + mod[0].Key().Name + `","changed":1}`))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := r.WriteTenant(ctx, "prod", typesOf(dev), mod, CommitSpec{Message: "two"})
	if err != nil || h2.IsZero() {
		t.Fatal(h2, err)
	}
	gitCmd(t, r.Path(), "revert", "--no-edit", "HEAD")
	fsck(t, r.Path())
	h3, err := r.Resolve("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if head, _ := r.Head(); head != h3 || h3 == h2 {
		t.Fatalf("Head = %s, Resolve(HEAD) = %s, before revert %s", head, h3, h2)
	}
	files, err := r.ReadTenant(h3, "prod")
	if err != nil {
		t.Fatal(err)
	}
	want := compactAll(dev)
	if len(files) != len(dev) {
		t.Fatalf("%d files after the CLI revert, want %d", len(files), len(dev))
	}
	for _, f := range files {
		if !want[string(f.Entry.Raw)] {
			t.Errorf("%s not back to the first version", f.Path)
		}
	}
	if p, _ := r.ChangedPaths(h1, h3, ""); len(p) != 0 {
		t.Errorf("tree after revert differs from the first commit: %v", p)
	}
	// Revert through the API: reverting the CLI's revert gives back h2's tree.
	h4, err := r.Revert(ctx, h3, "")
	if err != nil {
		t.Fatal(err)
	}
	fsck(t, r.Path())
	clean(t, r.Path())
	if p, _ := r.ChangedPaths(h2, h4, ""); len(p) != 0 {
		t.Errorf("Revert of the revert differs from the second commit: %v", p)
	}
	if rev, _ := r.Resolve("HEAD~1"); rev != h3 {
		t.Errorf("HEAD~1 = %s, want %s", rev, h3)
	}
	if rev, _ := r.Resolve(h2.String()[:8]); rev != h2 {
		t.Errorf("short hash resolves to %s, want %s", rev, h2)
	}
	// a conflicting revert: h2 changed mod[0], which a later commit changes again
	mod[0], _ = mod[0].WithObject([]byte(`{"name":"` + mod[0].Key().Name + `","changed":2}`))
	if _, err := r.WriteTenant(ctx, "prod", typesOf(dev), mod, CommitSpec{Message: "three"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Revert(ctx, h2, ""); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("revert of an overwritten change: %v, want a conflict", err)
	}
}

func TestNotesAndRefs(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	h, err := r.Commit(ctx, CommitSpec{Message: "a", Changes: []Change{{Path: "tenants/dev/X/a.json", Content: []byte("{}\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetNote(h, []byte("record 1\n")); err != nil {
		t.Fatal(err)
	}
	if got := gitCmd(t, r.Path(), "notes", "--ref=promoter", "show", h.String()); got != "record 1\n" {
		t.Errorf("git notes show = %q", got)
	}
	if err := r.SetNote(h, []byte("record 2\n")); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := r.Note(h); !ok || err != nil || string(got) != "record 2\n" {
		t.Errorf("Note = %q %v %v", got, ok, err)
	}
	// a note added by the CLI is read back
	h2, err := r.Commit(ctx, CommitSpec{Message: "b", Changes: []Change{{Path: "tenants/dev/X/b.json", Content: []byte("{}\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	gitCmd(t, r.Path(), "notes", "--ref=promoter", "add", "-m", "from cli", h2.String())
	if got, ok, _ := r.Note(h2); !ok || string(got) != "from cli\n" {
		t.Errorf("Note of a CLI note = %q %v", got, ok)
	}
	fsck(t, r.Path())

	name := "refs/promoter/offered/dev-to-prod"
	if err := r.SetRef(name, h, Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := r.SetRef(name, h2, Hash{}); err == nil {
		t.Error("SetRef with old zero on an existing ref succeeded")
	}
	if err := r.SetRef(name, h2, h2); err == nil {
		t.Error("SetRef with a wrong old value succeeded")
	}
	if err := r.SetRef(name, h2, h); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(gitCmd(t, r.Path(), "rev-parse", name)); got != h2.String() {
		t.Errorf("git rev-parse %s = %s", name, got)
	}
	if got, _ := r.Ref(name); got != h2 {
		t.Errorf("Ref = %s", got)
	}
	if got, _ := r.Ref("refs/promoter/applied/none"); !got.IsZero() {
		t.Errorf("missing ref = %s", got)
	}
	if err := r.SetRef(name, Hash{}, h2); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Ref(name); !got.IsZero() {
		t.Errorf("deleted ref = %s", got)
	}
}

func TestCommitNeverOverwritesUncommittedWork(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	p := "tenants/prod/SOURCE/a.json"
	if _, err := r.Commit(ctx, CommitSpec{Message: "a", Changes: []Change{{Path: p, Content: []byte("1\n")}}}); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(r.Path(), filepath.FromSlash(p))
	if err := os.WriteFile(abs, []byte("my edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	head, _ := r.Head()
	_, err := r.Commit(ctx, CommitSpec{Message: "b", Changes: []Change{{Path: p, Content: []byte("2\n")}}})
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("commit over an edited file: %v, want an error naming %s", err, p)
	}
	if now, _ := r.Head(); now != head {
		t.Errorf("branch moved despite the error")
	}
	if data, _ := os.ReadFile(abs); string(data) != "my edit\n" {
		t.Errorf("edit lost: %q", data)
	}
	dirty, err := r.Dirty()
	if err != nil || len(dirty) != 1 || !strings.Contains(dirty[0], p) {
		t.Errorf("Dirty = %v, %v", dirty, err)
	}
	// an untracked file where a commit wants to create one
	q := "tenants/prod/SOURCE/new.json"
	os.WriteFile(filepath.Join(r.Path(), filepath.FromSlash(q)), []byte("mine\n"), 0o644)
	if _, err := r.Commit(ctx, CommitSpec{Message: "c", Changes: []Change{{Path: q, Content: []byte("theirs\n")}}}); err == nil {
		t.Errorf("commit over an untracked file succeeded")
	}
	// other paths commit fine and leave the edits alone
	if _, err := r.Commit(ctx, CommitSpec{Message: "d", Changes: []Change{{Path: "tenants/prod/SOURCE/b.json", Content: []byte("b\n")}}}); err != nil {
		t.Fatal(err)
	}
	st := gitCmd(t, r.Path(), "status", "--porcelain")
	if !strings.Contains(st, " M "+p) || !strings.Contains(st, "?? "+q) || strings.Count(st, "\n") != 2 {
		t.Errorf("git status:\n%s", st)
	}
	fsck(t, r.Path())
}

func TestCommitValidatesPaths(t *testing.T) {
	r := openTest(t, Options{})
	for _, p := range []string{"../x", "/abs", "a/.git/b", "a//b", "a/./b", "a/../b", "a\x00b", ".GIT/config", ""} {
		if _, err := r.Commit(context.Background(), CommitSpec{Message: "x", Changes: []Change{{Path: p, Content: []byte("x")}}}); err == nil {
			t.Errorf("commit of path %q succeeded", p)
		}
	}
	h, err := r.Commit(context.Background(), CommitSpec{Message: "nothing", Changes: []Change{{Path: "a/b", Content: nil}}})
	if err != nil || !h.IsZero() {
		t.Errorf("deleting a missing file: %s %v, want no commit", h, err)
	}
}

func TestCommitOtherBranch(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	base, err := r.Commit(ctx, CommitSpec{Message: "base", Changes: []Change{{Path: "tenants/prod/T/a.json", Content: []byte("a\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Commit(ctx, CommitSpec{Branch: "promoter/dev-to-prod", Base: base, Message: "proposal", Changes: []Change{{Path: "tenants/prod/T/b.json", Content: []byte("b\n")}}})
	if err != nil || h.IsZero() {
		t.Fatal(h, err)
	}
	clean(t, r.Path())
	if _, err := os.Stat(filepath.Join(r.Path(), "tenants/prod/T/b.json")); err == nil {
		t.Error("a commit on another branch wrote the working tree")
	}
	if got := strings.TrimSpace(gitCmd(t, r.Path(), "rev-parse", "promoter/dev-to-prod~1")); got != base.String() {
		t.Errorf("branch parent = %s, want %s", got, base)
	}
	fsck(t, r.Path())
}

func TestLockTwoRepos(t *testing.T) {
	r1 := openTest(t, Options{})
	r2, err := Open(context.Background(), Options{Path: r1.Path()})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := r1.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r2.Lock(ctx)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second lock: %v, want an error naming the holder pid", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := r2.Lock(context.Background())
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// TestCommitAnExistingBlob commits a file by the id of a blob the
// repository holds (on another ref): the tree names that blob, the working
// file holds its bytes, git sees a clean tree; a blob the repository does
// not hold fails the commit, which writes nothing.
func TestCommitAnExistingBlob(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	data := []byte("{\n  \"name\": \"observed\"\n}\n")
	if _, err := r.Commit(ctx, CommitSpec{Branch: "refs/promoter/observed/prod", Message: "observation", Changes: []Change{{Path: "tenants/prod/T/a.json", Content: data}}}); err != nil {
		t.Fatal(err)
	}
	id := BlobID(data)
	h, err := r.Commit(ctx, CommitSpec{Message: "baseline", Changes: []Change{{Path: "tenants/prod/T/a.json", Blob: id}}})
	if err != nil || h.IsZero() {
		t.Fatal(h, err)
	}
	if got := strings.Fields(gitCmd(t, r.Path(), "ls-tree", "HEAD", "tenants/prod/T/a.json")); len(got) < 3 || got[2] != id.String() {
		t.Errorf("tree entry %v, want blob %s", got, id)
	}
	if got, err := os.ReadFile(filepath.Join(r.Path(), "tenants/prod/T/a.json")); err != nil || string(got) != string(data) {
		t.Errorf("working file %q (%v), want the blob's bytes", got, err)
	}
	clean(t, r.Path())
	missing := BlobID([]byte("never stored\n"))
	_, err = r.Commit(ctx, CommitSpec{Message: "bad", Changes: []Change{{Path: "tenants/prod/T/b.json", Blob: missing}}})
	if err == nil || !strings.Contains(err.Error(), "tenants/prod/T/b.json") || !strings.Contains(err.Error(), "not in the repository") {
		t.Errorf("commit of a missing blob: err = %v, want one naming the path and the missing blob", err)
	}
	if head, _ := r.Head(); head != h {
		t.Errorf("the failed commit moved the branch: %s, want %s", head, h)
	}
	clean(t, r.Path())
	fsck(t, r.Path())
}
