package gitstore

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// TestEncodeIndexIsGoGitsEncoder checks encodeIndex against go-git's
// index.Encoder on random indexes (versions 2 and 3, conflict stages, long
// names, extended flags, zero and set times, indexes larger than one
// write), bytes and entry order.
func TestEncodeIndexIsGoGitsEncoder(t *testing.T) {
	for n := range 200 {
		mk := func() *index.Index {
			r := rand.New(rand.NewSource(int64(n)))
			idx := &index.Index{Version: uint32(2 + r.Intn(2))}
			count := r.Intn(40)
			if n%20 == 0 {
				count = 3000 // written in several 64 KB chunks
			}
			for i := range count {
				name := fmt.Sprintf("tenants/dev/TYPE%d/obj %d.json", r.Intn(3), r.Intn(30))
				if r.Intn(20) == 0 {
					name += string(bytes.Repeat([]byte("x"), 4100))
				}
				e := &index.Entry{
					Name: name, Stage: index.Stage(r.Intn(4) * r.Intn(2)), Mode: filemode.Regular,
					Dev: r.Uint32(), Inode: r.Uint32(), UID: r.Uint32(), GID: r.Uint32(), Size: r.Uint32(),
					Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(name)),
				}
				if r.Intn(4) > 0 {
					e.ModifiedAt = time.Unix(int64(r.Uint32()), int64(r.Intn(1e9)))
					e.CreatedAt = e.ModifiedAt.Add(-time.Duration(i) * time.Second)
				}
				if idx.Version == 3 {
					e.IntentToAdd, e.SkipWorktree = r.Intn(5) == 0, r.Intn(5) == 0
				}
				idx.Entries = append(idx.Entries, e)
			}
			return idx
		}
		a, b := mk(), mk()
		var want bytes.Buffer
		if err := index.NewEncoder(&want).Encode(a); err != nil {
			t.Fatal(err)
		}
		got, err := encodeIndex(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("index %d: encodeIndex differs from go-git's Encoder (%d bytes, want %d)", n, len(got), want.Len())
		}
		for i := range a.Entries {
			if a.Entries[i].Name != b.Entries[i].Name || a.Entries[i].Stage != b.Entries[i].Stage || a.Entries[i].Inode != b.Entries[i].Inode {
				t.Fatalf("index %d: entry %d sorted differently", n, i)
			}
		}
	}
	if _, err := encodeIndex(&index.Index{Version: 4}); err == nil {
		t.Error("version 4 encoded")
	}
	neg := &index.Index{Version: 2, Entries: []*index.Entry{{Name: "a", ModifiedAt: time.Unix(-5, 0)}}}
	if _, err := encodeIndex(neg); err != index.ErrInvalidTimestamp {
		t.Errorf("negative time: err = %v", err)
	}
}

// TestDecodeIndexIsGoGitsDecoder checks decodeIndex against go-git's
// index.Decoder on random indexes, and that a file with entries out of
// git's order, an extension or a bad checksum is left to it.
func TestDecodeIndexIsGoGitsDecoder(t *testing.T) {
	decoded := 0
	for n := range 200 {
		data, want := encodedIndex(t, randomIndex(rand.New(rand.NewSource(int64(n)))))
		got, ok := decodeIndex(data)
		if !slices.IsSortedFunc(want.Entries, indexOrder) {
			if ok {
				t.Fatalf("index %d: entries out of git's order were decoded", n)
			}
			continue // left to the Decoder
		}
		decoded++
		if !ok {
			t.Fatalf("index %d: not decoded", n)
		}
		if !reflect.DeepEqual(got, want) {
			for i := range max(len(got.Entries), len(want.Entries)) {
				if i >= len(got.Entries) || i >= len(want.Entries) || !reflect.DeepEqual(got.Entries[i], want.Entries[i]) {
					t.Logf("entry %d:\n got %+v\nwant %+v", i, got.Entries[min(i, len(got.Entries)-1)], want.Entries[min(i, len(want.Entries)-1)])
					break
				}
			}
			t.Fatalf("index %d: decodeIndex differs from go-git's Decoder (%d, %d entries, %+v %+v)", n, len(got.Entries), len(want.Entries), got.Version, want.Version)
		}
		bad := bytes.Clone(data)
		bad[len(bad)-1] ^= 1
		if _, ok := decodeIndex(bad); ok {
			t.Fatalf("index %d: a bad checksum was decoded", n)
		}
	}
	if decoded < 50 {
		t.Fatalf("only %d of 200 indexes in git's order: the test proves little", decoded)
	}
	// an index with a cache-tree extension, as git writes it
	dir := t.TempDir()
	gitCmd(t, dir, "init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, dir, "add", "a.json")
	gitCmd(t, dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
	gitCmd(t, dir, "read-tree", "HEAD") // writes the TREE extension
	data, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("TREE")) {
		t.Skip("git wrote no cache tree")
	}
	if _, ok := decodeIndex(data); ok {
		t.Error("an index with an extension was decoded")
	}
}

// randomIndex is an index of up to 60 entries over few names (so paths have
// several stages), some names of 4,095 bytes or more, versions 2 and 3.
func randomIndex(r *rand.Rand) *index.Index {
	idx := &index.Index{Version: uint32(2 + r.Intn(2))}
	for range r.Intn(60) {
		idx.Entries = append(idx.Entries, randomEntry(r, idx.Version, fmt.Sprintf("tenants/dev/T%d/o %d.json", r.Intn(3), r.Intn(25))))
	}
	return idx
}

func randomEntry(r *rand.Rand, version uint32, name string) *index.Entry {
	if r.Intn(15) == 0 {
		name += string(bytes.Repeat([]byte("z"), 4094+r.Intn(4)))
	}
	e := &index.Entry{Name: name, Stage: index.Stage(r.Intn(4) * r.Intn(2)), Mode: filemode.Regular,
		Dev: r.Uint32(), Inode: r.Uint32(), UID: r.Uint32(), GID: r.Uint32(), Size: r.Uint32(),
		Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(fmt.Sprint(name, r.Int())))}
	if r.Intn(3) > 0 {
		e.ModifiedAt, e.CreatedAt = time.Unix(int64(r.Uint32()), int64(r.Intn(1e9))), time.Unix(int64(r.Uint32()), 0)
	}
	if version == 3 {
		e.IntentToAdd, e.SkipWorktree = r.Intn(4) == 0, r.Intn(4) == 0
	}
	return e
}

// encodedIndex returns idx encoded (encodeIndex) and decoded back by
// go-git's Decoder.
func encodedIndex(t *testing.T, idx *index.Index) ([]byte, *index.Index) {
	t.Helper()
	data, err := encodeIndex(idx)
	if err != nil {
		t.Fatal(err)
	}
	dec := &index.Index{}
	if err := index.NewDecoder(bytes.NewReader(data)).Decode(dec); err != nil {
		t.Fatal(err)
	}
	return data, dec
}

// withExtension returns the index file data with an extension of sig
// before the checksum, and the checksum of the new bytes.
func withExtension(data []byte, sig string, body []byte) []byte {
	out := bytes.Clone(data[:len(data)-20])
	out = append(out, sig...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	out = append(out, body...)
	sum := sha1.Sum(out)
	return append(out, sum[:]...)
}

// TestIndexRewriteIsDecodeEditEncode checks the streamed index against
// go-git: scanIndex finds each wanted path's last-stage entry and its count
// of stages as the Decoder's entries have them, and rewrite writes the bytes
// of "decode, drop the entries of the paths put or dropped, add put, sort,
// encode" - with an optional extension (dropped) or none. An index out of
// git's order, with a required extension, a bad checksum or cut short is
// not streamed.
func TestIndexRewriteIsDecodeEditEncode(t *testing.T) {
	streamed := 0
	for n := range 300 {
		r := rand.New(rand.NewSource(int64(n)))
		data, dec := encodedIndex(t, randomIndex(r))
		var paths []string
		for range r.Intn(8) {
			if len(dec.Entries) > 0 && r.Intn(2) == 0 {
				paths = append(paths, dec.Entries[r.Intn(len(dec.Entries))].Name)
			} else {
				paths = append(paths, fmt.Sprintf("tenants/dev/T%d/new %d.json", r.Intn(4), r.Intn(9)))
			}
		}
		src := data
		if n%3 == 1 {
			src = withExtension(data, "TREE", bytes.Repeat([]byte{7}, r.Intn(200)))
		}
		scan, err := scanIndex(bytes.NewReader(src), int64(len(src)), paths)
		if !slices.IsSortedFunc(dec.Entries, indexOrder) {
			if err != errNotStreamed {
				t.Fatalf("index %d: entries out of git's order: err = %v, want errNotStreamed", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("index %d: %v", n, err)
		}
		streamed++
		for _, p := range paths {
			var last *index.Entry
			stages := 0
			for _, e := range dec.Entries {
				if e.Name == p {
					last, stages = e, stages+1
				}
			}
			if !reflect.DeepEqual(scan.last[p], last) || scan.stages[p] != stages {
				t.Fatalf("index %d: %.40s: scan found %+v (%d stages), want %+v (%d)", n, p, scan.last[p], scan.stages[p], last, stages)
			}
		}
		var put []*index.Entry
		drop := map[string]bool{}
		for i, p := range slices.Compact(slices.Sorted(slices.Values(paths))) {
			if i%2 == 0 {
				put = append(put, randomEntry(r, 2, p)) // a commit writes stage 0 entries without extended flags
				put[len(put)-1].Name, put[len(put)-1].Stage, put[len(put)-1].IntentToAdd, put[len(put)-1].SkipWorktree = p, 0, false, false
			} else {
				drop[p] = true
			}
		}
		want := &index.Index{Version: dec.Version}
		for _, e := range dec.Entries {
			if !drop[e.Name] && !slices.ContainsFunc(put, func(x *index.Entry) bool { return x.Name == e.Name }) {
				want.Entries = append(want.Entries, e)
			}
		}
		want.Entries = append(want.Entries, put...)
		slices.SortStableFunc(want.Entries, indexOrder)
		var wantData bytes.Buffer
		if err := index.NewEncoder(&wantData).Encode(want); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := scan.rewrite(&got, slices.Clone(put), drop); err != nil {
			t.Fatalf("index %d: rewrite: %v", n, err)
		}
		if !bytes.Equal(got.Bytes(), wantData.Bytes()) {
			t.Fatalf("index %d: rewrite wrote %d bytes that differ from go-git's %d", n, got.Len(), wantData.Len())
		}
	}
	if streamed < 100 {
		t.Fatalf("only %d of 300 indexes were streamed", streamed)
	}
	idx := &index.Index{Version: 2}
	for i := range 3000 { // several buffers of the reader
		idx.Entries = append(idx.Entries, &index.Entry{Name: fmt.Sprintf("tenants/prod/SOURCE/o%05d.json", i), Mode: filemode.Regular})
	}
	data, err := encodeIndex(idx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scanIndex(bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("a large index: %v", err)
	}
	for name, bad := range map[string][]byte{
		"a required extension": withExtension(data, "link", make([]byte, 20)),
		"a bad checksum":       append(bytes.Clone(data[:len(data)-1]), data[len(data)-1]^1),
		"cut short":            data[:len(data)/2],
		"version 4":            append(append(bytes.Clone(data[:4]), 0, 0, 0, 4), data[8:]...),
		"no index":             []byte("not an index file at all, but long enough"),
	} {
		if _, err := scanIndex(bytes.NewReader(bad), int64(len(bad)), []string{"x"}); err != errNotStreamed {
			t.Errorf("%s: err = %v, want errNotStreamed", name, err)
		}
	}
}

// TestCommitOverAnIndexGitRewrote commits through promoter after git wrote
// the index with a cache tree (streamed, the extension dropped) and as
// version 4 (decoded whole): each time git reads the new index, the working
// tree is clean, and the index holds HEAD's files.
func TestCommitOverAnIndexGitRewrote(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"}); err != nil {
		t.Fatal(err)
	}
	for i, prepare := range [][]string{{"read-tree", "HEAD"}, {"update-index", "--index-version", "4"}} {
		gitCmd(t, r.Path(), prepare...)
		if _, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(2+i), CommitSpec{Message: fmt.Sprint("v", 2+i)}); err != nil {
			t.Fatalf("after git %v: %v", prepare, err)
		}
		clean(t, r.Path())
		staged := gitCmd(t, r.Path(), "ls-files", "-s")
		var want strings.Builder
		for _, l := range strings.Split(strings.TrimSpace(gitCmd(t, r.Path(), "ls-tree", "-r", "HEAD")), "\n") {
			// "100644 blob <id>\t<path>" -> "100644 <id> 0\t<path>"
			f := strings.Fields(strings.SplitN(l, "\t", 2)[0])
			fmt.Fprintf(&want, "%s %s 0\t%s\n", f[0], f[2], strings.SplitN(l, "\t", 2)[1])
		}
		if staged != want.String() {
			t.Fatalf("after git %v: index\n%s\nwant HEAD's files\n%s", prepare, staged, want.String())
		}
		if out := gitCmd(t, r.Path(), "diff-index", "--cached", "HEAD"); out != "" {
			t.Fatalf("after git %v: staged changes against HEAD:\n%s", prepare, out)
		}
	}
}
