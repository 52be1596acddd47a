package pipeline

import (
	"context"
	"strings"
	"testing"

	"promoter/config"
	"promoter/gitstore"
)

// TestExcludedObjectKeepsItsTargetFileWhenDeletedInTheSource: the key of a
// deleted source file comes from the file's last content, not from its name,
// so an excluded object whose name has a scope keeps its target file (issue
// 17 bug 3).
func TestExcludedObjectKeepsItsTargetFileWhenDeletedInTheSource(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	const path = "tenants/prod/LIFECYCLE_STATE/Contractors - terminated.json"
	head, _ := h.store.Head()
	if _, ok, err := h.store.ReadFile(head, path); err != nil || !ok {
		t.Fatalf("%s is not in the target folder after the first promotion (%v); the test would prove nothing", path, err)
	}
	h.cfg.Pipelines[0].Exclude = append(h.cfg.Pipelines[0].Exclude, config.ObjectRef{Type: "LIFECYCLE_STATE", Name: "Contractors / terminated"})
	if err := h.dev.DeleteObject("LIFECYCLE_STATE", "Contractors / terminated"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.runner().Run(context.Background(), RunOptions{}); err != nil {
		t.Fatalf("run: %v", err)
	}
	head, _ = h.store.Head()
	if _, ok, err := h.store.ReadFile(head, path); err != nil || !ok {
		t.Errorf("the excluded object's target file was deleted (%v)", err)
	}
}

// TestAppliedMovedDuringTheImportFailsTheRecord: the applied ref moves with
// a compare-and-swap against its value at plan time; another process moving
// it while the import runs makes the record step fail instead of silently
// overwriting it (issue 17 bug 4).
func TestAppliedMovedDuringTheImportFailsTheRecord(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	editObject(t, h.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	r := h.runner()
	var moved gitstore.Hash
	r.Hooks.ImportStarted = func(string, string) {
		// Another process records an apply of an older commit meanwhile.
		cur, _ := h.store.Ref(appliedRef("prod"))
		ci, err := h.store.CommitInfo(cur)
		if err != nil || len(ci.Parents) == 0 {
			t.Errorf("applied has no parent to move to: %v", err)
			return
		}
		moved = ci.Parents[0]
		if err := h.store.SetRef(appliedRef("prod"), moved, cur); err != nil {
			t.Error(err)
		}
	}
	_, err := r.Run(context.Background(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "moved") {
		t.Fatalf("run with a concurrent move of applied: %v, want an error saying it moved", err)
	}
	if got, _ := h.store.Ref(appliedRef("prod")); got != moved {
		t.Errorf("applied is %s, want the concurrent value %s left alone", got, moved)
	}
}
