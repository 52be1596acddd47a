package main

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPackageLayering keeps DESIGN section 2 true: retry (the HTTP retry
// policy), jsonspan (the JSON path walker) and positions (the hash table of
// positions) import no project package; the leaves (spconfig, gitstore,
// diff) import no other project package except spconfig's model types, retry
// and positions; config (promotion.yaml) sits on
// spconfig's type names and jsonspan; pipeline imports only config and the
// leaves; forge (pull requests) needs only config, notify, metrics and server
// present pipeline's results; only cmd/promoter imports everything. Third-party modules are
// kept to the package that owns the concept (go-git behind gitstore, so
// pipeline and the rest see only gitstore's types). Test files are exempt.
func TestPackageLayering(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		"retry":                 {},
		"jsonspan":              {},
		"positions":             {},
		"spconfig":              {"retry"},
		"spconfig/spconfigtest": {"spconfig", "jsonspan"},
		"gitstore":              {"spconfig"},
		"diff":                  {"spconfig", "positions"},
		"config":                {"spconfig", "jsonspan"},
		"pipeline":              {"config", "spconfig", "gitstore", "diff", "jsonspan", "positions"},
		"forge":                 {"config", "retry"},
		"notify":                {"config", "pipeline", "spconfig", "diff", "retry"},
		"metrics":               {"pipeline", "spconfig", "gitstore", "diff"},
		"server":                {"pipeline", "spconfig", "gitstore", "diff", "metrics"},
	}
	// Module path prefixes each package may import from outside the
	// standard library; a package not listed imports none (a sub-package
	// may use its parent's).
	thirdParty := map[string][]string{
		"spconfig": {"golang.org/x/oauth2"},
		"gitstore": {"github.com/go-git/go-git/"},
		"diff":     {"github.com/google/go-cmp/"},
		"config":   {"github.com/robfig/cron/", "gopkg.in/yaml.v3"},
		"pipeline": {"github.com/robfig/cron/"},
		"metrics":  {"github.com/prometheus/client_golang/"},
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bench") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		if strings.HasPrefix(rel, "cmd/") {
			return nil
		}
		want, ok := allowed[rel]
		if !ok {
			// a sub-package of an operations package (e.g. forge/forgetest) may
			// use its parent and what the parent may use
			parent := rel[:max(strings.LastIndex(rel, "/"), 0)]
			if pw, pok := allowed[parent]; pok {
				want = append(slices.Clone(pw), parent)
				ok = true
			}
		}
		if !ok {
			t.Errorf("package %s is not in the layering table; add it with the project packages it may import", rel)
			return nil
		}
		ext, ok := thirdParty[rel]
		if !ok {
			ext = thirdParty[rel[:max(strings.LastIndex(rel, "/"), 0)]]
		}
		for _, imp := range pkg.Imports {
			dep, isProject := strings.CutPrefix(imp, "promoter/")
			if isProject && !slices.Contains(want, dep) {
				t.Errorf("package %s imports %s; DESIGN section 2 allows only %v", rel, imp, want)
			}
			first, _, _ := strings.Cut(imp, "/")
			if !isProject && strings.Contains(first, ".") && !slices.ContainsFunc(ext, func(p string) bool { return strings.HasPrefix(imp, p) }) {
				t.Errorf("package %s imports %s; it may import only %v from outside the standard library", rel, imp, ext)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"spconfig", "gitstore", "diff", "pipeline"} {
		if !seen[must] {
			t.Errorf("package %s not found: the test is looking in the wrong place", must)
		}
	}
}

// TestCrashHookOnlyUnderTag: the PROMOTER_TEST_CRASH hook is compiled only
// with the build tag crashtest (which TestMain sets for the binary the tests
// run), never into a release build.
func TestCrashHookOnlyUnderTag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tags      []string
		want, not string
	}{
		{nil, "crash_off.go", "crash.go"},
		{[]string{"crashtest"}, "crash.go", "crash_off.go"},
	} {
		ctx := build.Default
		ctx.BuildTags = tc.tags
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(pkg.GoFiles, tc.want) || slices.Contains(pkg.GoFiles, tc.not) {
			t.Errorf("tags %v build %v; want %s and not %s", tc.tags, pkg.GoFiles, tc.want, tc.not)
		}
	}
}
