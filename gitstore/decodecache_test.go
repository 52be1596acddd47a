package gitstore

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

// The decode cache must be invisible: a folder read by the process that
// wrote it (entries remembered, no blob read) equals the folder read by a
// process that opened the repository afresh, file bytes included, and a
// second read equals the first; a thin read (ReadTenantEntries) keeps the
// identity of each entry and Load brings its bytes back.
func TestReadTenantFromTheDecodeCacheEqualsAFreshRead(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	dev := sampleEntries(t, "dev")
	h, err := r.WriteTenant(ctx, "dev", spconfig.ExportableTypes(), dev, CommitSpec{Message: "Snapshot dev"})
	if err != nil {
		t.Fatal(err)
	}
	// a hand-formatted file: same entry, other bytes (decoded, not remembered)
	files, err := r.ReadTenant(h, "dev")
	if err != nil || len(files) == 0 {
		t.Fatal(len(files), err)
	}
	odd := files[0]
	h, err = r.Commit(ctx, CommitSpec{Message: "reformat", Changes: []Change{{Path: odd.Path, Content: append([]byte("  "), odd.Data...)}}})
	if err != nil {
		t.Fatal(err)
	}
	fresh := openTest(t, Options{Path: r.Path()})
	want, err := fresh.ReadTenant(h, "dev")
	if err != nil {
		t.Fatal(err)
	}
	opt := cmp.Comparer(func(a, b spconfig.Entry) bool {
		return string(a.Raw) == string(b.Raw) && a.Key() == b.Key() && string(a.Object()) == string(b.Object())
	})
	for round := range 2 {
		got, err := r.ReadTenant(h, "dev")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, opt); d != "" {
			t.Fatalf("round %d: cached read differs from a fresh one (-fresh +cached):\n%s", round, d)
		}
		entries, err := r.ReadTenantEntries(h, "dev")
		if err != nil || len(entries) != len(want) {
			t.Fatal(len(entries), err)
		}
		for i := range entries {
			e, w := entries[i].Entry, want[i].Entry
			if entries[i].Path != want[i].Path || !e.IsThin() || e.Key() != w.Key() || e.Self != w.Self || e.IDClaims() != w.IDClaims() || e.Signed() != w.Signed() || entries[i].Blob != want[i].Blob {
				t.Fatalf("round %d: ReadTenantEntries %s differs: %+v, want the thin entry of %+v", round, entries[i].Path, entries[i], want[i])
			}
		}
		// ReadTenantThin holds the same (shared) entries
		thin, some, err := r.ReadTenantThin(h, "dev", func(e *spconfig.Entry) bool { return e.Key() == entries[len(entries)/2].Entry.Key() })
		if err != nil || len(thin) != len(entries) {
			t.Fatal(len(thin), err)
		}
		if len(some) != 1 || some[0] != entries[len(entries)/2] {
			t.Fatalf("round %d: ReadTenantThin gave the files %+v, want %+v", round, some, entries[len(entries)/2])
		}
		shared := map[*spconfig.Entry]int{}
		for i := range entries {
			shared[entries[i].Entry]++
		}
		for _, e := range thin {
			if shared[e]--; shared[e] < 0 {
				t.Fatalf("round %d: ReadTenantThin gave an entry ReadTenantEntries did not: %+v", round, *e)
			}
		}
		// Load brings back exactly the fresh read's files
		loaded, err := r.Load(entries)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, loaded, opt); d != "" {
			t.Fatalf("round %d: loaded thin read differs from a fresh one (-fresh +loaded):\n%s", round, d)
		}
	}
}
