package gitstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

// snapshotStream writes entries through a Snapshot.
func snapshotStream(r *Repo, tenant string, types []string, es []spconfig.Entry, s CommitSpec) (Hash, error) {
	sn, err := r.NewSnapshot(tenant, types, s)
	if err != nil {
		return Hash{}, err
	}
	for _, e := range es {
		if err := sn.Add(e); err != nil {
			return Hash{}, err
		}
	}
	return sn.Commit(context.Background())
}

// TestSnapshotMatchesWriteTenant writes the same sequence of exports with
// WriteTenant into one repository and with a streamed Snapshot into another
// and requires the same commits (trees, files, messages; the clocks agree).
func TestSnapshotMatchesWriteTenant(t *testing.T) {
	dev := sampleEntries(t, "dev")
	prod := sampleEntries(t, "prod")
	types := typesOf(append(append([]spconfig.Entry{}, dev...), prod...))
	types = append(types, "ROLE", "TAG")
	ts := func(name, extra string) spconfig.Entry { return mkEntry(t, "TAG", name, "id-"+name, extra) }
	colliding := []spconfig.Entry{
		ts("Alpha", `"v":1`), ts("alpha", `"v":2`), ts("ALPHA", `"v":3`), ts("beta", ""),
		mkEntry(t, "TAG", "dup", "1", ""), mkEntry(t, "TAG", "dup", "2", ""),
		ts("Alpha~"+shortHash("TAG", "", "alpha"), ""), // a plain name equal to a suffixed one
	}
	semantic := func(es []spconfig.Entry) []spconfig.Entry { // created/modified changed only
		out := make([]spconfig.Entry, len(es))
		for i, e := range es {
			out[i] = e
			if e.Signed() {
				continue
			}
			obj := strings.Replace(string(e.Object()), `"modified":"`, `"modified":"1999`, 1)
			if ne, err := e.WithObject([]byte(obj)); err == nil {
				out[i] = ne
			}
		}
		return out
	}
	steps := []struct {
		name string
		es   []spconfig.Entry
	}{
		{"initial dev", dev},
		{"same again", dev},
		{"volatile fields changed", semantic(dev)},
		{"prod replaces dev", prod},
		{"colliding names", append(append([]spconfig.Entry{}, prod...), colliding...)},
		{"collisions go away", append(append([]spconfig.Entry{}, prod...), ts("alpha", `"v":2`), ts("beta", ""))},
		{"collisions come back, reversed", append([]spconfig.Entry{colliding[2], colliding[1], colliding[0]}, prod[:3]...)},
		{"empty", nil},
	}
	a := openTest(t, Options{Path: filepath.Join(t.TempDir(), "a")})
	b := openTest(t, Options{Path: filepath.Join(t.TempDir(), "b")})
	for _, st := range steps {
		spec := CommitSpec{Message: st.name}
		ha, err := a.WriteTenant(context.Background(), "dev", types, st.es, spec)
		if err != nil {
			t.Fatalf("%s: WriteTenant: %v", st.name, err)
		}
		hb, err := snapshotStream(b, "dev", types, st.es, spec)
		if err != nil {
			t.Fatalf("%s: Snapshot: %v", st.name, err)
		}
		if ha != hb {
			t.Errorf("%s: WriteTenant committed %s, Snapshot %s", st.name, ha, hb)
			t.Log(cmp.Diff(gitCmd(t, a.Path(), "ls-tree", "-r", "HEAD"), gitCmd(t, b.Path(), "ls-tree", "-r", "HEAD")))
		}
	}
	clean(t, b.Path())
	fsck(t, b.Path())
}

func TestSnapshotRefusesBadEntries(t *testing.T) {
	r := openTest(t, Options{})
	tests := []struct {
		name  string
		types []string
		e     spconfig.Entry
		want  string
	}{
		{"type not written", []string{"ROLE"}, mkEntry(t, "TAG", "x", "1", ""), "objects[1] (TAG x) has type TAG, which is not among the types written (ROLE)"},
		{"not parsed", []string{"TAG"}, spconfig.Entry{Raw: []byte(`{}`), Self: spconfig.Self{Type: "TAG", Name: "x"}}, "objects[1] (TAG \"x\"): entry has no object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sn, err := r.NewSnapshot("dev", tc.types, CommitSpec{Message: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if err := sn.Add(mkEntry(t, tc.types[0], "ok", "0", "")); err != nil {
				t.Fatal(err)
			}
			err = sn.Add(tc.e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Add: %v, want %q", err, tc.want)
			}
			var de *spconfig.DecodeError
			if tc.name == "not parsed" && !errors.As(err, &de) {
				t.Errorf("Add: %T is not a *spconfig.DecodeError", err)
			}
			if _, cerr := sn.Commit(context.Background()); cerr == nil {
				t.Fatal("Commit after a refused entry succeeded")
			}
			if h, _ := r.Head(); !h.IsZero() {
				t.Errorf("something was committed: %s", h)
			}
		})
	}
}

func TestBlobIDIsGitBlobID(t *testing.T) {
	for _, s := range []string{"", "a", "{\n  \"x\": 1\n}\n", strings.Repeat("z", 70000)} {
		if got, want := BlobID([]byte(s)), Hash(plumbing.ComputeHash(plumbing.BlobObject, []byte(s))); got != want {
			t.Errorf("BlobID(%d bytes) = %s, want %s", len(s), got, want)
		}
	}
}

// TestSnapshotIgnoresVolatileFields checks issue 17 bug 1: a re-export whose
// only changes are volatile fields (spconfig.VolatileFields) makes no commit,
// streamed or not, and keeps the stored bytes.
func TestSnapshotIgnoresVolatileFields(t *testing.T) {
	types := []string{"LIFECYCLE_STATE", "SOURCE", "TAG"}
	first := []spconfig.Entry{
		mkEntry(t, "LIFECYCLE_STATE", "active", "1", `"identityProfileName":"Employees","identityCount":2`),
		mkEntry(t, "SOURCE", "AD", "2", `"healthy":true,"status":"SOURCE_STATE_HEALTHY","since":"2026-01-01T00:00:00Z"`),
		mkEntry(t, "TAG", "t", "3", `"modifiedBy":"alice"`),
	}
	again := []spconfig.Entry{
		mkEntry(t, "LIFECYCLE_STATE", "active", "1", `"identityProfileName":"Employees","identityCount":3`),
		mkEntry(t, "SOURCE", "AD", "2", `"healthy":false,"status":"SOURCE_STATE_ERROR_CLUSTER","since":"2026-02-01T00:00:00Z"`),
		mkEntry(t, "TAG", "t", "3", `"modifiedBy":"bob"`),
	}
	for _, streamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("streamed=%v", streamed), func(t *testing.T) {
			r := openTest(t, Options{})
			write := func(es []spconfig.Entry, msg string) Hash {
				t.Helper()
				var h Hash
				var err error
				if streamed {
					h, err = snapshotStream(r, "dev", types, es, CommitSpec{Message: msg})
				} else {
					h, err = r.WriteTenant(context.Background(), "dev", types, es, CommitSpec{Message: msg})
				}
				if err != nil {
					t.Fatal(err)
				}
				return h
			}
			if write(first, "first").IsZero() {
				t.Fatal("first snapshot made no commit")
			}
			if h := write(again, "volatile only"); !h.IsZero() {
				t.Errorf("a change of volatile fields only made commit %s:\n%s", h, gitCmd(t, r.Path(), "show", "--stat", "HEAD"))
			}
		})
	}
}

// TestSnapshotUnreadableBlobIsSticky checks issue 17 bug 2: when a stored
// file cannot be read to compare it, Add fails, every later Add and Commit
// fail with the same error, and nothing is committed (before, Commit
// succeeded and the new tree had lost that object's file).
func TestSnapshotUnreadableBlobIsSticky(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	types := []string{"TAG"}
	first := []spconfig.Entry{mkEntry(t, "TAG", "a", "1", `"v":1`), mkEntry(t, "TAG", "b", "2", `"v":1`)}
	base, err := r.WriteTenant(ctx, "dev", types, first, CommitSpec{Message: "first"})
	if err != nil {
		t.Fatal(err)
	}
	blob := strings.TrimSpace(gitCmd(t, r.Path(), "rev-parse", "HEAD:tenants/dev/TAG/a.json"))
	if err := os.Remove(filepath.Join(r.Path(), ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatalf("remove the stored blob (is it packed?): %v", err)
	}

	sn, err := r.NewSnapshot("dev", types, CommitSpec{Message: "second"})
	if err != nil {
		t.Fatal(err)
	}
	addErr := sn.Add(mkEntry(t, "TAG", "a", "1", `"v":2`))
	if addErr == nil || !strings.Contains(addErr.Error(), "read blob "+blob[:12]) {
		t.Fatalf("Add with an unreadable stored blob: %v, want a read blob error", addErr)
	}
	if err := sn.Add(mkEntry(t, "TAG", "b", "2", `"v":2`)); err != addErr {
		t.Errorf("Add after a failed Add: %v, want the first error %v", err, addErr)
	}
	if h, err := sn.Commit(ctx); err != addErr {
		t.Errorf("Commit after a failed Add: %s, %v; want the first error %v", h, err, addErr)
	}
	if h, _ := r.Head(); h != base {
		t.Errorf("something was committed: head %s, want %s", h, base)
	}
}

// TestTreeOrderIsGits checks treeOrder against the order git itself writes a
// tree in (git mktree), for files and folders whose names are prefixes of
// each other, next to the bytes around "/".
func TestTreeOrderIsGits(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q")
	blob := strings.TrimSpace(gitCmdIn(t, dir, "x", "hash-object", "-w", "--stdin"))
	tree := strings.TrimSpace(gitCmdIn(t, dir, "", "mktree"))
	var in strings.Builder
	var ents []object.TreeEntry
	for _, name := range []string{"a/", "a.json", "a-b.json", "a0/", "ab", "b.json", "a.json~1", "A.json", "a b.json", "a.json0/", "a.jso/"} {
		if n, isDir := strings.CutSuffix(name, "/"); isDir {
			fmt.Fprintf(&in, "040000 tree %s\t%s\n", tree, n)
			ents = append(ents, object.TreeEntry{Name: n, Mode: filemode.Dir})
			continue
		}
		fmt.Fprintf(&in, "100644 blob %s\t%s\n", blob, name)
		ents = append(ents, object.TreeEntry{Name: name, Mode: filemode.Regular})
	}
	out := gitCmd(t, dir, "ls-tree", strings.TrimSpace(gitCmdIn(t, dir, in.String(), "mktree")))
	var gits []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		gits = append(gits, strings.SplitN(l, "\t", 2)[1])
	}
	slices.SortFunc(ents, treeOrder)
	var ours []string
	for _, e := range ents {
		ours = append(ours, e.Name)
	}
	if !slices.Equal(ours, gits) {
		t.Fatalf("treeOrder sorts\n%q\ngit writes\n%q", ours, gits)
	}
}

// gitCmdIn is gitCmd with stdin.
func gitCmdIn(t testing.TB, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, gitEnv(os.TempDir()), strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
