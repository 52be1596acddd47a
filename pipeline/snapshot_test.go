package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportFailsOnUnreadableStoredFile checks issue 17 bug 2 through the
// export flow: when a stored object file cannot be read to compare it with
// the new export, the export fails naming it and commits nothing (before,
// the snapshot was committed without that object's file).
func TestExportFailsOnUnreadableStoredFile(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, "")
	const path = "tenants/dev/TRANSFORM/Get Worker Type.json"
	export := func() (*Result, error) { return h.runner().Export(ctx) }
	if _, err := export(); err != nil {
		t.Fatal(err)
	}
	// A second snapshot that changes one object stores its blob loose.
	editObject(t, h.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	if _, err := export(); err != nil {
		t.Fatal(err)
	}
	head, _ := h.store.Head()
	blob := holdGit(t, h.store.Path(), "rev-parse", head.String()+":"+path)
	if err := os.Remove(filepath.Join(h.store.Path(), ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatalf("remove the stored blob of %s: %v", path, err)
	}

	editObject(t, h.dev, "TRANSFORM", "Get Worker Type", "Contractor", "Freelancer")
	_, err := export()
	if err == nil || !strings.Contains(err.Error(), "Get Worker Type") || !strings.Contains(err.Error(), "read blob") {
		t.Fatalf("export with an unreadable stored file: %v, want an error naming the object and the blob", err)
	}
	if now, _ := h.store.Head(); now != head {
		t.Errorf("something was committed: head %s, want %s", now, head)
	}
}
