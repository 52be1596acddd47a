package pipeline

import (
	"os"
	"path/filepath"
	"promoter/config"
	"strings"
	"testing"
)

// TestRepoPathOnDisk: issue 14 item 11. repo.path that is a file, or a
// folder that is neither empty nor a git repository, is a configuration
// problem with its line (unless repo.init: true); a missing, empty or git
// folder is accepted.
func TestRepoPathOnDisk(t *testing.T) {
	const y = "repo:\n  path: ./r\n%s" + `tenants:
  dev: {baseURL: https://acme-sb.api.identitynow.com, clientIDEnv: A, clientSecretEnv: B}
  prod: {baseURL: https://acme.api.identitynow.com, clientIDEnv: C, clientSecretEnv: D}
pipelines:
  - {name: dev-to-prod, source: dev, target: prod}
`
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
		extra string
		want  string // substring of the problem; "" = accepted
	}{
		{"missing", func(string) error { return nil }, "", ""},
		{"empty folder", func(d string) error { return os.Mkdir(filepath.Join(d, "r"), 0o755) }, "", ""},
		{"git folder", func(d string) error { return os.MkdirAll(filepath.Join(d, "r", ".git"), 0o755) }, "", ""},
		{"a file", func(d string) error { return os.WriteFile(filepath.Join(d, "r"), []byte("x"), 0o644) }, "", "is a file; repo.path must be the folder"},
		{"non-empty folder", nonEmpty, "", "not empty and not a git repository"},
		{"non-empty folder with init", nonEmpty, "  init: true\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "promotion.yaml")
			if err := os.WriteFile(file, []byte(strings.Replace(y, "%s", tc.extra, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(file)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want accepted, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "promotion.yaml:2: repo.path")):
				t.Fatalf("want a problem at line 2 with %q, got %v", tc.want, err)
			}
		})
	}
}

func nonEmpty(dir string) error {
	if err := os.Mkdir(filepath.Join(dir, "r"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "r", "notes.txt"), []byte("mine"), 0o644)
}
