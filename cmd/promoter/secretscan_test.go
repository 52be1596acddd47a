package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// plantSourceCredentials rewrites an export download so that the first
// SOURCE's connectorAttributes hold credentials under compound names.
func plantSourceCredentials(t *testing.T, values map[string]string) func([]byte) []byte {
	return func(body []byte) []byte {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("fake export is not JSON: %v", err)
			return body
		}
		var objs []json.RawMessage
		json.Unmarshal(doc["objects"], &objs)
		for i, raw := range objs {
			var o map[string]any
			json.Unmarshal(raw, &o)
			self, _ := o["self"].(map[string]any)
			obj, _ := o["object"].(map[string]any)
			if self["type"] != "SOURCE" || obj == nil {
				continue
			}
			ca, _ := obj["connectorAttributes"].(map[string]any)
			if ca == nil {
				ca = map[string]any{}
				obj["connectorAttributes"] = ca
			}
			for k, v := range values {
				ca[k] = v
			}
			objs[i] = marshalRaw(o)
			break
		}
		doc["objects"] = marshalRaw(objs)
		return marshalRaw(doc)
	}
}

// TestSecretScanCatchesCompoundNamesEndToEnd plants adminPassword and
// apiToken in a SOURCE's connectorAttributes of the dev export: by default
// the run is refused naming both fields and nothing reaches git; with
// secretScan.action redact the run promotes and neither git, the tenant
// nor `promoter diff` holds the values, while tokenUrl stays as exported.
func TestSecretScanCatchesCompoundNamesEndToEnd(t *testing.T) {
	t.Parallel()
	planted := map[string]string{
		"adminPassword": "pw-PLUGH-1",
		"apiToken":      "tok-PLUGH-2",
		"tokenUrl":      "https://login.example.com/oauth/token",
	}
	secrets := []string{"pw-PLUGH-1", "tok-PLUGH-2"}
	allRefs := func(w *e2e) string {
		out, _ := exec.Command("git", "-C", w.repo, "log", "--all", "-p", "--format=%H %B").CombinedOutput()
		return string(out)
	}
	t.Run("refuse", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{dev: tenantSetup{wrap: rewriteDownloads(plantSourceCredentials(t, planted))}})
		r := w.exec(nil, "run", "--config", w.cfg)
		msg := lastError(r.stderr)
		if r.code != exitRuntime || !strings.Contains(msg, "connectorAttributes.adminPassword") || !strings.Contains(msg, "connectorAttributes.apiToken") || strings.Contains(msg, "tokenUrl") {
			t.Fatalf("want exit 1 naming adminPassword and apiToken (not tokenUrl), got %s", r)
		}
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr+allRefs(w), s) {
				t.Errorf("%s is in the output or the repository", s)
			}
		}
		if n := w.realImports(); n != 0 {
			t.Errorf("a refused export was imported %d times", n)
		}
	})
	t.Run("redact", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{
			pipeline: "    secretScan:\n      action: redact\n",
			dev:      tenantSetup{wrap: rewriteDownloads(plantSourceCredentials(t, planted))},
		})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK {
			t.Fatalf("run with redact: %s", r)
		}
		d := w.exec(nil, "diff", "--repo", w.repo, "HEAD~1", "HEAD")
		repo := allRefs(w)
		for _, s := range secrets {
			if strings.Contains(r.stdout+r.stderr+d.stdout+d.stderr+repo, s) {
				t.Errorf("%s is in the output, the diff or the repository", s)
			}
		}
		for _, e := range w.prod.Objects("SOURCE") {
			if raw, _ := json.Marshal(e); strings.Contains(string(raw), "PLUGH") {
				t.Errorf("a credential was imported into prod: %s", e.Key())
			}
		}
		if !strings.Contains(repo, "REDACTED-BY-PROMOTER") || !strings.Contains(repo, planted["tokenUrl"]) {
			t.Errorf("the repository lacks the redacted fields or tokenUrl")
		}
	})
}
