package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoadPathsRelativeToTheFile checks issue 14 item 6: relative paths in
// the file are relative to the file's folder whatever the working directory,
// and RepoPath does not join the folder a second time (a relative --config
// dir/promotion.yaml opened dir/dir/isc-config).
func TestLoadPathsRelativeToTheFile(t *testing.T) {
	root := t.TempDir()
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r // os.Getwd reports the resolved folder
	}
	conf := filepath.Join(root, "conf")
	other := filepath.Join(root, "other", "deeper")
	for _, d := range []string{conf, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const y = `repo:
  path: ./isc-config
  remote: https://git.example.com/acme/isc-config.git
  auth: {tokenFile: secrets/git-token}
tenants:
  dev: {baseURL: https://acme-sb.api.identitynow.com, clientIDFile: secrets/dev-id, clientSecretFile: ../conf/secrets/dev-secret}
  prod: {baseURL: https://acme.api.identitynow.com, clientIDEnv: PROD_ID, clientSecretEnv: PROD_SECRET}
serve: {triggerTokenFile: ./secrets/trigger}
pipelines:
  - {name: dev-to-prod, source: dev, target: prod}
`
	file := filepath.Join(conf, "promotion.yaml")
	if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"repo":             filepath.Join(conf, "isc-config"),
		"tokenFile":        filepath.Join(conf, "secrets", "git-token"),
		"clientIDFile":     filepath.Join(conf, "secrets", "dev-id"),
		"clientSecretFile": filepath.Join(conf, "secrets", "dev-secret"),
		"triggerTokenFile": filepath.Join(conf, "secrets", "trigger"),
	}
	tests := []struct{ wd, config string }{
		{root, "conf/promotion.yaml"},
		{root, "./conf/../conf/promotion.yaml"},
		{conf, "promotion.yaml"},
		{other, "../../conf/promotion.yaml"},
		{other, file},
		{"/", file},
	}
	for _, tc := range tests {
		t.Run(tc.wd+" "+tc.config, func(t *testing.T) {
			t.Chdir(tc.wd)
			c, err := Load(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{
				"repo":             c.RepoPath(),
				"tokenFile":        c.Repo.Auth.TokenFile,
				"clientIDFile":     c.Tenants["dev"].ClientIDFile,
				"clientSecretFile": c.Tenants["dev"].ClientSecretFile,
				"triggerTokenFile": c.Serve.TriggerTokenFile,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}
