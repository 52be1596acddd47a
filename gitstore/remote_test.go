package gitstore

import (
	"context"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promoter/spconfig"
)

func bareRepo(t testing.TB) string {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "remote.git")
	gitCmd(t, t.TempDir(), "init", "--bare", "-b", "main", dir)
	gitCmd(t, dir, "config", "http.receivepack", "true")
	return dir
}

// httpBackend serves the bare repositories below root through git
// http-backend on 127.0.0.1, requiring basic auth with the given token.
func httpBackend(t testing.TB, root, token string) string {
	t.Helper()
	execPath := strings.TrimSpace(gitCmd(t, root, "--exec-path"))
	h := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || u != "x-access-token" || p != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// exercise pushes from one clone and syncs into a second one.
func exercise(t *testing.T, remote, token string, checkRemote func()) {
	ctx := context.Background()
	a := openTest(t, Options{Remote: remote, Token: token})
	dev := sampleEntries(t, "dev")
	h1, err := a.WriteTenant(ctx, "dev", typesOf(dev), dev, CommitSpec{Message: "snapshot"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRef("refs/promoter/offered/p", h1, Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetNote(h1, []byte("record\n")); err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx); err != nil {
		t.Fatal(err)
	}
	checkRemote()

	// a second working copy is cloned and sees everything
	b := openTest(t, Options{Remote: remote, Token: token})
	if got, _ := b.Head(); got != h1 {
		t.Fatalf("clone head = %s, want %s", got, h1)
	}
	if got, _ := b.Ref("refs/promoter/offered/p"); got != h1 {
		t.Errorf("clone offered ref = %s", got)
	}
	if got, ok, _ := b.Note(h1); !ok || string(got) != "record\n" {
		t.Errorf("clone note = %q %v", got, ok)
	}
	clean(t, b.Path())
	fsck(t, b.Path())

	// b commits and pushes a change; a syncs (fast-forward, working tree updated)
	mod := append([]spconfig.Entry(nil), dev[1:]...)
	h2, err := b.WriteTenant(ctx, "dev", typesOf(dev), mod, CommitSpec{Message: "drop one"})
	if err != nil || h2.IsZero() {
		t.Fatal(h2, err)
	}
	if err := b.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Head(); got != h2 {
		t.Fatalf("after sync head = %s, want %s", got, h2)
	}
	clean(t, a.Path())

	// both commit to different files: a's push is rejected, rebased, and succeeds
	ha, err := a.Commit(ctx, CommitSpec{Message: "a", Changes: []Change{{Path: "tenants/prod/X/a.json", Content: []byte("a\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRef("refs/promoter/applied/prod", ha, Hash{}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetNote(ha, []byte("record a\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx, CommitSpec{Message: "b", Changes: []Change{{Path: "tenants/prod/X/b.json", Content: []byte("b\n")}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Push(ctx); err != nil {
		t.Fatalf("push after the remote moved (other files): %v", err)
	}
	clean(t, a.Path())
	fsck(t, a.Path())
	for _, f := range []string{"a.json", "b.json"} {
		if _, ok, _ := a.ReadFile(mustHead(t, a), "tenants/prod/X/"+f); !ok {
			t.Errorf("after rebase %s is missing", f)
		}
	}
	if applied, _ := a.Ref("refs/promoter/applied/prod"); applied != mustHead(t, a) {
		t.Errorf("applied ref %s was not carried to the rebased commit %s", applied, mustHead(t, a))
	}
	// The record moves with the rebased commit: one note, on the commit the
	// branch holds, none left on the commit it replaced.
	if got, ok, _ := a.Note(mustHead(t, a)); !ok || string(got) != "record a\n" {
		t.Errorf("note on the rebased commit = %q %v, want the record", got, ok)
	}
	if _, ok, _ := a.Note(ha); ok {
		t.Errorf("the note stayed on the pre-rebase commit %s", ha)
	}
	if out := gitCmd(t, a.Path(), "notes", "--ref=promoter", "list"); strings.Contains(out, ha.String()) || strings.Count(out, "\n") != 2 {
		t.Errorf("refs/notes/promoter holds:\n%s\nwant the notes of h1 and the rebased commit only", out)
	}

	// both change the same file: a clear error, nothing lost
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, CommitSpec{Message: "a2", Changes: []Change{{Path: "tenants/prod/X/a.json", Content: []byte("a2\n")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx, CommitSpec{Message: "b2", Changes: []Change{{Path: "tenants/prod/X/a.json", Content: []byte("b2\n")}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx); err != nil {
		t.Fatal(err)
	}
	err = a.Push(ctx)
	if err == nil || !strings.Contains(err.Error(), "tenants/prod/X/a.json") {
		t.Fatalf("conflicting push: %v, want an error naming the file", err)
	}
	if want := "git -C " + a.Path() + " pull --rebase origin main"; !strings.Contains(err.Error(), want) {
		t.Errorf("conflicting push: %v, want the exact command %q", err, want)
	}
	if data, _, _ := a.ReadFile(mustHead(t, a), "tenants/prod/X/a.json"); string(data) != "a2\n" {
		t.Errorf("local commit lost: %q", data)
	}
}

func mustHead(t testing.TB, r *Repo) Hash {
	h, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPushFetchLocalBare(t *testing.T) {
	remote := bareRepo(t)
	exercise(t, remote, "", func() {
		fsck(t, remote)
		if out := gitCmd(t, remote, "notes", "--ref=promoter", "list"); out == "" {
			t.Error("remote has no promoter notes")
		}
		if out := gitCmd(t, remote, "for-each-ref", "refs/promoter/"); !strings.Contains(out, "refs/promoter/offered/p") {
			t.Errorf("remote refs:\n%s", out)
		}
	})
}

func TestPushFetchHTTPBackend(t *testing.T) {
	root := t.TempDir()
	bare := bareRepo(t)
	if err := os.Rename(bare, filepath.Join(root, "config.git")); err != nil {
		t.Fatal(err)
	}
	url := httpBackend(t, root, "s3cret") + "/config.git"
	// a wrong token fails without leaking it
	bad, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "bad"), Remote: url, Token: "wrong"})
	if err == nil {
		bad.Push(context.Background())
		t.Fatal("open with a wrong token succeeded")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the token: %v", err)
	}
	exercise(t, url, "s3cret", func() { fsck(t, filepath.Join(root, "config.git")) })
}

func TestPushSendsOnlyNewObjects(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	dev := sampleEntries(t, "dev")
	h1, err := r.WriteTenant(ctx, "dev", typesOf(dev), dev, CommitSpec{Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	h2, err := r.Commit(ctx, CommitSpec{Message: "two", Changes: []Change{{Path: "tenants/dev/SOURCE/new.json", Content: []byte("{}\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.newObjects([]Hash{h2}, []Hash{h1})
	if err != nil {
		t.Fatal(err)
	}
	// the commit, 4 trees (root, tenants, dev, SOURCE) and the blob
	if len(objs) != 6 {
		t.Errorf("push of a one-file commit would send %d objects, want 6", len(objs))
	}
	all, err := r.newObjects([]Hash{h2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < len(dev)+2 {
		t.Errorf("push to an empty remote would send %d objects, want at least %d", len(all), len(dev)+2)
	}
}
