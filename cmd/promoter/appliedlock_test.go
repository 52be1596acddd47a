package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAppliedRefLockedByGitIsNamedNotCalledAMove: when a git command holds
// the lock of refs/promoter/applied/<target> while a run records its import,
// the error says the update failed and why (the lock), not that the ref
// "moved from X to X"; once the lock is gone, apply finishes.
func TestAppliedRefLockedByGitIsNamedNotCalledAMove(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	lock := filepath.Join(w.repo, ".git", "refs", "promoter", "applied", "prod.lock")
	if err := os.WriteFile(lock, []byte("held by a git command\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitRuntime {
		t.Fatalf("run with the applied ref locked: exit %d, want %d\n%s", code, exitRuntime, lastLines(errOut, 6))
	}
	if strings.Contains(errOut, "it moved from") || !strings.Contains(errOut, "advance refs/promoter/applied/prod from") || !strings.Contains(errOut, lock+" exists") {
		t.Errorf("the error does not say the update failed on the lock:\n%s", lastLines(errOut, 6))
	}
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	w.prodMatchesDev()
}
