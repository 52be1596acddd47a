package gitstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCountTenantMatchesReadTenant checks that counting tree entries gives
// the per-type numbers that reading and decoding every file gives.
func TestCountTenantMatchesReadTenant(t *testing.T) {
	ctx := context.Background()
	r, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "repo")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.CountTenant(Hash{}, "dev"); err != nil || len(got) != 0 {
		t.Fatalf("zero rev: %v %v", got, err)
	}
	es := synthEntries(40, 1, 0)
	h, err := r.WriteTenant(ctx, "dev", benchTypes, es, CommitSpec{Message: "snap"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.CountTenant(h, "dev")
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.ReadTenant(h, "dev")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, f := range files {
		want[f.Entry.Type()]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CountTenant differs from ReadTenant (-want +got):\n%s", diff)
	}
	if got, err := r.CountTenant(h, "prod"); err != nil || len(got) != 0 {
		t.Errorf("missing tenant: %v %v", got, err)
	}
}
