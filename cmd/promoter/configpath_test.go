package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRelativeConfigPathFromSeveralFolders checks issue 14 item 6 through the
// binary: `export --config` with a relative path, run from the file's folder,
// from above it and from below it, always writes the one repository the file
// names (repo.path ./repo, relative to the file's folder). Before, a relative
// --config a/b/promotion.yaml opened a/b/a/b/repo, a fresh empty repository.
func TestRelativeConfigPathFromSeveralFolders(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	confDir := filepath.Join(w.dir, "a", "b")
	below := filepath.Join(confDir, "c", "d")
	if err := os.MkdirAll(below, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = filepath.Join(confDir, "promotion.yaml")
	if err := os.WriteFile(w.cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	w.repo = filepath.Join(confDir, "repo")

	runs := []struct{ wd, config string }{
		{w.dir, filepath.Join("a", "b", "promotion.yaml")},
		{confDir, "promotion.yaml"},
		{below, filepath.Join("..", "..", "promotion.yaml")},
		{w.dir, "./a/../a/b/promotion.yaml"},
	}
	for i, r := range runs {
		if i > 0 { // each run has one change to commit
			w.editObject(w.dev, "TRANSFORM", "Get Worker Type", strings.Repeat("x", i-1)+"Contingent", strings.Repeat("x", i)+"Contingent")
		}
		if out, errOut, code := w.promoterIn(r.wd, "export", "--config", r.config); code != exitOK {
			t.Fatalf("export --config %s in %s: exit %d\nstdout:\n%s\nstderr:\n%s", r.config, r.wd, code, out, errOut)
		}
		if got, want := w.git("rev-list", "--count", "HEAD"), len(runs[:i+1]); got != strconv.Itoa(want) {
			t.Errorf("after export --config %s in %s: %s commits in %s, want %d", r.config, r.wd, got, w.repo, want)
		}
	}
	var repos []string
	err = filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			repos = append(repos, filepath.Dir(p))
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(repos, []string{w.repo}) {
		t.Errorf("repositories under the test folder: %q, want only %s", repos, w.repo)
	}
}
