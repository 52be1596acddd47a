package gitstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaleRefLockOnlyPromotersIsRemoved: a ref lock that a killed promoter
// left (a hard link of its .git/promoter-ref-* file) is removed by the next
// Lock, and the ref can move again; a lock a git command holds (a plain
// file) is never removed, and moving that ref fails naming the lock.
func TestStaleRefLockOnlyPromotersIsRemoved(t *testing.T) {
	ctx := context.Background()
	r := openTest(t, Options{})
	c1, err := r.WriteTenant(ctx, "dev", []string{"TRANSFORM"}, crashEntries(1), CommitSpec{Message: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	const ours, theirs = "refs/promoter/offered/p", "refs/promoter/applied/t"
	// what a promoter killed between locking and renaming leaves: its
	// lock, linked to its own file
	lock := filepath.Join(r.gitDir, filepath.FromSlash(ours)+".lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	if own, err := r.lockRef(lock, c1.String()+"\n"); err != nil || own == "" {
		t.Fatalf("lockRef: %q, %v", own, err)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("the simulated kill left no lock: %v", err)
	}
	// a git command's lock: a plain file
	foreign := filepath.Join(r.gitDir, filepath.FromSlash(theirs)+".lock")
	if err := os.MkdirAll(filepath.Dir(foreign), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreign, []byte(c1.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	unlock, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(lock); err == nil {
		t.Errorf("promoter's stale lock %s is still there", lock)
	}
	if err := r.SetRef(ours, c1, Hash{}); err != nil {
		t.Errorf("set %s after the stale lock was removed: %v", ours, err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("a git command's lock was removed: %v", err)
	}
	if err := r.SetRef(theirs, c1, Hash{}); err == nil || !strings.Contains(err.Error(), foreign+" exists") {
		t.Errorf("set %s while a git command holds its lock: %v, want an error naming the lock", theirs, err)
	}
	if own, _ := filepath.Glob(filepath.Join(r.gitDir, ownRefPrefix+"*")); len(own) > 0 {
		t.Errorf("promoter's lock files left: %v", own)
	}
	fsck(t, r.Path())
}
