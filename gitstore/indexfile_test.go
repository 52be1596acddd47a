package gitstore

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
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
// index.Decoder on the random indexes of the encoder test, and that a file
// with an extension, another version or a bad checksum is left to it.
func TestDecodeIndexIsGoGitsDecoder(t *testing.T) {
	for n := range 200 {
		r := rand.New(rand.NewSource(int64(n)))
		idx := &index.Index{Version: uint32(2 + r.Intn(2))}
		for range r.Intn(40) {
			name := fmt.Sprintf("tenants/prod/T%d/o %d.json", r.Intn(3), r.Intn(50))
			if r.Intn(15) == 0 {
				name += string(bytes.Repeat([]byte("y"), 4095+r.Intn(3)))
			}
			e := &index.Entry{Name: name, Stage: index.Stage(r.Intn(4)), Mode: filemode.Regular, Inode: r.Uint32(), Size: r.Uint32(),
				Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(name))}
			if r.Intn(3) > 0 {
				e.ModifiedAt, e.CreatedAt = time.Unix(int64(r.Uint32()), int64(r.Intn(1e9))), time.Unix(int64(r.Uint32()), 0)
			}
			if idx.Version == 3 {
				e.IntentToAdd, e.SkipWorktree = r.Intn(4) == 0, r.Intn(4) == 0
			}
			idx.Entries = append(idx.Entries, e)
		}
		data, err := encodeIndex(idx)
		if err != nil {
			t.Fatal(err)
		}
		want := &index.Index{}
		if err := index.NewDecoder(bytes.NewReader(data)).Decode(want); err != nil {
			t.Fatal(err)
		}
		got, ok := decodeIndex(data)
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
