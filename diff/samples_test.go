package diff

import (
	"os"
	"path/filepath"
	"testing"

	"promoter/spconfig"
)

// sharedDir returns ../shared relative to the module root, or skips.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(filepath.Join(shared, "samples")); err != nil {
				t.Skipf("skipping: %s not found (the shared samples sit next to the repository)", shared)
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Skip("skipping: go.mod not found above the test directory")
	return ""
}

func loadSample(t testing.TB, tenant string) []spconfig.Entry {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedDir(t), "samples", "tenant-"+tenant+".export.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := spconfig.ReadExport(f)
	if err != nil {
		t.Fatalf("read sample %s: %v", tenant, err)
	}
	return doc.Objects
}

// sampleResult is Compare(prod, dev, CrossTenant): what promoting dev to prod shows.
func sampleResult(t testing.TB) Result {
	t.Helper()
	r, err := Compare(loadSample(t, "prod"), loadSample(t, "dev"), Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
