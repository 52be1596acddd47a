package gitstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// gitObjects lists every object of the repository at dir with its type and
// content, as `git cat-file` prints them.
func gitObjects(t *testing.T, dir string) map[Hash]struct {
	typ  string
	data []byte
} {
	t.Helper()
	list := gitCmdIn(t, dir, "", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	out := gitCmdIn(t, dir, list, "cat-file", "--batch")
	objs := map[Hash]struct {
		typ  string
		data []byte
	}{}
	r := bufio.NewReader(strings.NewReader(out))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("cat-file --batch: %q", line)
		}
		n, _ := strconv.Atoi(f[2])
		data := make([]byte, n+1) // and the newline
		if _, err := io.ReadFull(r, data); err != nil {
			t.Fatal(err)
		}
		h := Hash(plumbing.NewHash(f[0]))
		objs[h] = struct {
			typ  string
			data []byte
		}{f[1], data[:n]}
	}
	if len(objs) == 0 {
		t.Fatal("git lists no object")
	}
	return objs
}

// entryTypes counts the entry types of every object in the packs of db.
func entryTypes(t *testing.T, db *odb) map[plumbing.ObjectType]int {
	t.Helper()
	out := map[plumbing.ObjectType]int{}
	for _, p := range db.order {
		f, err := db.acquire(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < p.n; i++ {
			hd, err := p.header(f, p.offset(i))
			if err != nil {
				t.Fatal(err)
			}
			out[hd.typ]++
		}
		db.release(p)
	}
	return out
}

// TestODBBoundsItsOpenPacks: with more packs than openPacks, odb reads
// every object and keeps at most openPacks pack files open.
func TestODBBoundsItsOpenPacks(t *testing.T) {
	dir := t.TempDir()
	gitCmdIn(t, dir, "", "init", "-q", "-b", "main")
	for i := 0; i < openPacks+8; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		gitCmdIn(t, dir, "", "add", "-A")
		gitCmdIn(t, dir, "", "commit", "-q", "-m", fmt.Sprint(i))
		gitCmdIn(t, dir, "", "repack", "-q") // a pack of the new objects
	}
	db := checkODB(t, dir)
	if len(db.order) <= openPacks {
		t.Fatalf("%d packs, want more than %d", len(db.order), openPacks)
	}
	if len(db.open) > openPacks {
		t.Fatalf("%d pack files open, want at most %d", len(db.open), openPacks)
	}
	for _, p := range db.open {
		if p.users != 0 || p.f == nil {
			t.Fatalf("pack %s: %d users, file %v after every read ended", p.name, p.users, p.f)
		}
	}
}

// checkODB reads every object git lists through a fresh odb of dir and
// compares type and bytes.
func checkODB(t *testing.T, dir string) *odb {
	t.Helper()
	db := openODB(filepath.Join(dir, ".git"))
	if db == nil {
		t.Fatal("openODB: nil for a plain repository")
	}
	t.Cleanup(db.close)
	for h, want := range gitObjects(t, dir) {
		typ, data, err := db.read(h)
		if err != nil {
			t.Fatalf("read %s (%s): %v", h, want.typ, err)
		}
		if typ.String() != want.typ || !bytes.Equal(data, want.data) {
			t.Fatalf("read %s: %s of %d bytes, git has a %s of %d bytes", h, typ, len(data), want.typ, len(want.data))
		}
		if !db.has(h) {
			t.Fatalf("has(%s) is false", h)
		}
	}
	var missing Hash
	missing[0], missing[19] = 0xff, 0x01
	if _, _, err := db.read(missing); err == nil || db.has(missing) {
		t.Fatalf("an object the repository lacks: read gave %v, has %v", err, db.has(missing))
	}
	return db
}

// TestODBReadsWhatGitHolds checks odb against `git cat-file` over loose
// objects, a pack git repacked with offset deltas and one with deltas that
// name their base (repack.useDeltaBaseOffset=false), chains included.
func TestODBReadsWhatGitHolds(t *testing.T) {
	dir := t.TempDir()
	gitCmdIn(t, dir, "", "init", "-q", "-b", "main")
	for c := 0; c < 6; c++ {
		for i := 0; i < 60; i++ {
			var b strings.Builder
			for l := 0; l < 40; l++ {
				fmt.Fprintf(&b, "object %d line %d: the same words in every file of the folder\n", i, l)
			}
			fmt.Fprintf(&b, "version %d\n", c) // each commit changes every file a little
			sub := filepath.Join(dir, "tenants", fmt.Sprintf("t%d", i%3))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d.json", i)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gitCmdIn(t, dir, "", "add", "-A")
		gitCmdIn(t, dir, "", "commit", "-q", "-m", fmt.Sprintf("commit %d", c))
	}
	if db := checkODB(t, dir); len(db.order) != 0 {
		t.Fatalf("loose objects only: %d packs", len(db.order))
	}

	gitCmdIn(t, dir, "", "gc", "-q", "--aggressive", "--prune=now")
	db := checkODB(t, dir)
	if n := entryTypes(t, db); n[plumbing.OFSDeltaObject] == 0 || n[plumbing.REFDeltaObject] != 0 {
		t.Fatalf("git gc: entry types %v, want offset deltas only", n)
	}

	gitCmdIn(t, dir, "", "-c", "repack.useDeltaBaseOffset=false", "repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=50")
	db = checkODB(t, dir)
	if n := entryTypes(t, db); n[plumbing.REFDeltaObject] == 0 || n[plumbing.OFSDeltaObject] != 0 {
		t.Fatalf("repack without offsets: entry types %v, want deltas by name only", n)
	}
}

// TestODBLargeOffsets reads a version 2 index whose offsets need the table
// of 8-byte offsets (packs over 2 GiB).
func TestODBLargeOffsets(t *testing.T) {
	var a, b Hash
	a[0], b[0] = 0x10, 0x20
	var idx bytes.Buffer
	idx.Write(idxHeader)
	for i := 0; i < 256; i++ {
		n := 0
		if i >= 0x10 {
			n++
		}
		if i >= 0x20 {
			n++
		}
		binary.Write(&idx, binary.BigEndian, uint32(n))
	}
	idx.Write(a[:])
	idx.Write(b[:])
	idx.Write(make([]byte, 8)) // CRCs
	binary.Write(&idx, binary.BigEndian, uint32(0x80000000))
	binary.Write(&idx, binary.BigEndian, uint32(12))
	binary.Write(&idx, binary.BigEndian, uint64(5<<30))
	idx.Write(make([]byte, 40))
	p := &pack{idx: idx.Bytes(), n: 2}
	if off, ok := p.find(a); !ok || off != 5<<30 {
		t.Fatalf("find(a) = %d, %v; want %d", off, ok, int64(5<<30))
	}
	if off, ok := p.find(b); !ok || off != 12 {
		t.Fatalf("find(b) = %d, %v; want 12", off, ok)
	}
	var c Hash
	c[0] = 0x10
	c[19] = 1
	if _, ok := p.find(c); ok {
		t.Fatal("find of a name the index lacks")
	}
}

// TestODBBrokenPack: a pack cut short or with damaged data gives errors
// that name the pack, never a panic or wrong bytes.
func TestODBBrokenPack(t *testing.T) {
	dir := t.TempDir()
	gitCmdIn(t, dir, "", "init", "-q", "-b", "main")
	for i := 0; i < 20; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), 200)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCmdIn(t, dir, "", "add", "-A")
	gitCmdIn(t, dir, "", "commit", "-q", "-m", "files")
	gitCmdIn(t, dir, "", "gc", "-q", "--prune=now")
	objs := gitObjects(t, dir)
	packs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("%d packs", len(packs))
	}
	data, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(packs[0], 0o644)
	for _, damage := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"cut short", func(b []byte) []byte { return b[:len(b)/2] }},
		{"damaged data", func(b []byte) []byte {
			c := bytes.Clone(b)
			for i := 40; i < len(c)-20; i += 7 {
				c[i] ^= 0x5a
			}
			return c
		}},
	} {
		if err := os.WriteFile(packs[0], damage.edit(data), 0o644); err != nil {
			t.Fatal(err)
		}
		db := openODB(filepath.Join(dir, ".git"))
		if db == nil {
			t.Fatalf("%s: openODB nil", damage.name)
		}
		bad := 0
		for h, want := range objs {
			typ, got, err := db.read(h)
			switch {
			case err != nil:
				bad++
				if !strings.Contains(err.Error(), filepath.Base(packs[0])) && !strings.Contains(err.Error(), "not found") {
					t.Errorf("%s: read %s: %v does not name the pack", damage.name, h, err)
				}
			case typ.String() != want.typ || !bytes.Equal(got, want.data):
				t.Errorf("%s: read %s gave other bytes without an error", damage.name, h)
			}
		}
		if bad == 0 {
			t.Errorf("%s: every object read", damage.name)
		}
		db.close()
	}
}

// TestRepoReadsThroughODB: a repository promoter opens reads its objects
// through odb, and through go-git when objects/info/alternates is present.
func TestRepoReadsThroughODB(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(context.Background(), Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.objects == nil {
		t.Fatal("a plain repository is not read through odb")
	}
	alt := filepath.Join(dir, ".git", "objects", "info", "alternates")
	if err := os.MkdirAll(filepath.Dir(alt), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alt, []byte(filepath.Join(t.TempDir(), "objects")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if db := openODB(filepath.Join(dir, ".git")); db != nil {
		t.Fatal("odb opened a repository with alternates")
	}
}

// TestDecodeTreeIsGoGitsDecoder: decodeTree gives go-git's entries (modes
// made canonical, as go-git does, names with spaces and non-ASCII, ids with
// zero bytes) and refuses what go-git refuses.
func TestDecodeTreeIsGoGitsDecoder(t *testing.T) {
	var raw bytes.Buffer
	for i, mode := range []string{"100644", "100755", "100664", "120000", "160000", "40000", "100644"} {
		fmt.Fprintf(&raw, "%s %s\x00", mode, []string{"a b.json", "bin", "old mode", "link", "sub", "tenants", "Ünïcode ✓.json"}[i])
		var h [20]byte
		h[0], h[7], h[19] = byte(i), 0, byte(i*7) // zero bytes inside the id
		raw.Write(h[:])
	}
	decode := func(data []byte) ([]object.TreeEntry, error) {
		mo := &plumbing.MemoryObject{}
		mo.SetType(plumbing.TreeObject)
		mo.Write(data)
		var tr object.Tree
		err := tr.Decode(mo)
		return tr.Entries, err
	}
	want, err := decode(raw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeTree(raw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("decodeTree:\n%v\ngo-git:\n%v", got, want)
	}
	for _, bad := range []string{"100644", "100644 name", "100644 \x00" + strings.Repeat("x", 20), "100644 name\x00short", "10x644 name\x00" + strings.Repeat("x", 20)} {
		if _, gerr := decode([]byte(bad)); gerr == nil {
			t.Fatalf("go-git accepts %q", bad)
		}
		if _, err := decodeTree([]byte(bad)); err == nil {
			t.Errorf("decodeTree accepts %q, go-git does not", bad)
		}
	}
}

// TestRepoReadsWhatODBCannotThroughGoGit: an object in a pack odb could not
// open is read through go-git's storage.
func TestRepoReadsWhatODBCannotThroughGoGit(t *testing.T) {
	dir := t.TempDir()
	gitCmdIn(t, dir, "", "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "f.json"), []byte(`{"a":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCmdIn(t, dir, "", "add", "-A")
	gitCmdIn(t, dir, "", "commit", "-q", "-m", "one")
	gitCmdIn(t, dir, "", "gc", "-q", "--prune=now")
	blob := Hash(plumbing.NewHash(strings.TrimSpace(gitCmdIn(t, dir, "", "rev-parse", "HEAD:f.json"))))
	r, err := Open(context.Background(), Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	db := r.objects
	db.mu.Lock()
	db.order = nil // as if the pack's index could not be opened
	db.mu.Unlock()
	if _, _, err := db.read(blob); err == nil {
		t.Fatal("odb read a blob of a pack it does not hold")
	}
	data, err := r.ReadBlob(blob)
	if err != nil || string(data) != `{"a":1}`+"\n" {
		t.Fatalf("ReadBlob = %q, %v; want the file through go-git", data, err)
	}
}

// TestODBReadsAcrossARepack: packs that git gc replaces after odb mapped
// their indexes are read from the packs that replaced them.
func TestODBReadsAcrossARepack(t *testing.T) {
	dir := t.TempDir()
	gitCmdIn(t, dir, "", "init", "-q", "-b", "main")
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		gitCmdIn(t, dir, "", "add", "-A")
		gitCmdIn(t, dir, "", "commit", "-q", "-m", fmt.Sprint(i))
		gitCmdIn(t, dir, "", "repack", "-q")
	}
	db := openODB(filepath.Join(dir, ".git"))
	t.Cleanup(db.close)
	before := len(db.order)
	gitCmdIn(t, dir, "", "repack", "-q", "-a", "-d") // one pack; the others are deleted
	for h, want := range gitObjects(t, dir) {
		typ, data, err := db.read(h)
		if err != nil || typ.String() != want.typ || !bytes.Equal(data, want.data) {
			t.Fatalf("read %s after the repack: %s, %d bytes, %v; want the %s git has", h, typ, len(data), err, want.typ)
		}
	}
	if before < 2 || len(db.order) != 1 {
		t.Fatalf("packs: %d before the repack, %d after; want several, then 1", before, len(db.order))
	}
}
