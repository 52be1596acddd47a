package gitstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promoter/spconfig"
)

// TestPackReadByGitAndGoGit commits enough objects for a packfile (small
// and large ones, sizes around the header's 4- and 7-bit boundaries) and
// has the git CLI verify the pack and index, and go-git read every file back.
func TestPackReadByGitAndGoGit(t *testing.T) {
	r := openTest(t, Options{})
	var es []spconfig.Entry
	for i := range 3 * packThreshold {
		pad := strings.Repeat("x", []int{0, 1, 15, 16, 100, 2047, 70000}[i%7]+i)
		es = append(es, mkEntry(t, "TAG", fmt.Sprintf("tag %03d", i), fmt.Sprint(i), fmt.Sprintf(`"pad":%q`, pad)))
	}
	if _, err := r.WriteTenant(context.Background(), "dev", []string{"TAG"}, es, CommitSpec{Message: "tags"}); err != nil {
		t.Fatal(err)
	}
	packs, _ := filepath.Glob(filepath.Join(r.Path(), ".git", "objects", "pack", "pack-*.idx"))
	if len(packs) != 1 {
		t.Fatalf("%d pack indexes, want 1: %v", len(packs), packs)
	}
	out := gitCmd(t, r.Path(), "verify-pack", "-v", packs[0])
	if !strings.Contains(out, fmt.Sprintf("non delta: %d objects", len(es)+5)) { // blobs, 4 trees (root, tenants, dev, TAG), commit
		t.Errorf("verify-pack -v:\n%s", out)
	}
	fsck(t, r.Path())
	clean(t, r.Path())
	r2, err := Open(context.Background(), Options{Path: r.Path()})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := r2.Head()
	files, err := r2.ReadTenant(head, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(es) {
		t.Fatalf("read back %d files, want %d", len(files), len(es))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(r.Path(), filepath.FromSlash(f.Path)))
		if err != nil || string(data) != string(f.Data) {
			t.Errorf("%s: working file and committed blob differ (%v)", f.Path, err)
		}
	}
}
