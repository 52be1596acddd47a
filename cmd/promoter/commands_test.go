package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// TestSplitAssembleRoundTripThroughBinary splits a sample export with the real
// binary, assembles it back and checks every object's compact bytes.
func TestSplitAssembleRoundTripThroughBinary(t *testing.T) {
	t.Parallel()
	samples := sharedSamples(t)
	w := &e2e{t: t, dir: t.TempDir(), env: os.Environ()}
	in := filepath.Join(samples, "tenant-dev.export.json")
	out := filepath.Join(w.dir, "split")
	w.mustPromoter(exitOK, "split", "--in", in, "--out", out)
	if _, err := os.Stat(filepath.Join(out, "SOURCE", "Active Directory.json")); err != nil {
		t.Fatalf("split did not write SOURCE/Active Directory.json: %v", err)
	}
	assembled := w.mustPromoter(exitOK, "assemble", "--in", out, "--out", "-")
	got, err := spconfig.ReadExport(strings.NewReader(assembled))
	if err != nil {
		t.Fatalf("assembled output is not an export: %v", err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := spconfig.ReadExport(f)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]byte{}
	for _, e := range got.Objects {
		byKey[e.Self.Type+"/"+e.Self.ID] = e.Raw
	}
	if len(got.Objects) != len(want.Objects) {
		t.Fatalf("assembled %d objects, want %d", len(got.Objects), len(want.Objects))
	}
	for _, e := range want.Objects {
		if !bytes.Equal(byKey[e.Self.Type+"/"+e.Self.ID], e.Raw) {
			t.Errorf("%s: bytes differ after split+assemble", e.Key())
		}
	}
	// Not an export: refused, nothing written.
	bad := filepath.Join(w.dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"objects": [{"self": {"type": "SOURCE"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := w.promoter("split", "--in", bad, "--out", filepath.Join(w.dir, "nothing"))
	if code != exitRuntime || !strings.Contains(stderr, "objects[0]") {
		t.Errorf("bad export: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "nothing")); err == nil {
		t.Error("a refused split created its output folder")
	}
	if _, _, code := w.promoter("split", "--in", in); code != exitUsage {
		t.Errorf("split without --out: exit %d, want 2", code)
	}
}

// TestDiffCommandBetweenRevisions runs `promoter diff` on a repository the
// pipeline wrote and checks the text and JSON output.
func TestDiffCommandBetweenRevisions(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.mustPromoter(exitOK, "export", "--config", w.cfg)
	first := w.git("rev-parse", "HEAD")
	w.adminPost(w.dev, "/_fake/identities", `{"name": "Nobody"}`) // not exported: no change
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "export", "--config", w.cfg)
	second := w.git("rev-parse", "HEAD")
	if first == second {
		t.Fatal("the dev change made no snapshot commit")
	}
	text := w.mustPromoter(exitOK, "diff", "--repo", w.repo, first, second)
	if !strings.Contains(text, "TRANSFORM Get Worker Type") || !strings.Contains(text, "$.attributes.value") {
		t.Errorf("text diff misses the change:\n%s", text)
	}
	js := w.mustPromoter(exitOK, "diff", "--repo", w.repo, "--format", "json", first, second, "tenants/dev/TRANSFORM")
	var doc map[string]any
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("diff --format json is not JSON: %v\n%s", err, js)
	}
	if !strings.Contains(js, "Get Worker Type") {
		t.Errorf("json diff misses the change:\n%s", js)
	}
	empty := w.mustPromoter(exitOK, "diff", "--repo", w.repo, first, second, "tenants/dev/SOURCE")
	if strings.Contains(empty, "Get Worker Type") {
		t.Errorf("PATH filter ignored:\n%s", empty)
	}
	if _, _, code := w.promoter("diff", "--repo", w.repo, first); code != exitUsage {
		t.Errorf("diff with one revision: exit %d, want 2", code)
	}
	if _, _, code := w.promoter("diff", "--repo", w.repo, "no-such-rev", second); code != exitUsage {
		t.Errorf("diff with a bad revision: exit %d, want 2", code)
	}
}

// TestRunWithoutPipelineRunsEveryPipeline checks that run (like export, plan
// and apply) without --pipeline runs every pipeline of the file, keeps going
// after a blocked one and exits 3 while any is blocked.
func TestRunWithoutPipelineRunsEveryPipeline(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	seed, err := spconfigtest.SampleExport("prod")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := spconfigtest.SampleIdentities("prod")
	if err != nil {
		t.Fatal(err)
	}
	qa, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: seed, Identities: ids, ClientID: "qa-id", ClientSecret: "qa-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer qa.Close()
	cfg := fmt.Sprintf(`repo:
  path: ./repo
tenants:
  dev:  { baseURL: %s, clientIDEnv: E2E_DEV_ID, clientSecretEnv: E2E_DEV_SECRET }
  prod: { baseURL: %s, clientIDEnv: E2E_PROD_ID, clientSecretEnv: E2E_PROD_SECRET }
  qa:   { baseURL: %s, clientIDEnv: E2E_QA_ID, clientSecretEnv: E2E_QA_SECRET }
pipelines:
  - { name: dev-to-prod, source: dev, target: prod, exclude: [{type: AUTH_ORG}] }
  - { name: dev-to-qa, source: dev, target: qa, exclude: [{type: AUTH_ORG}] }
`, w.dev.URL, w.prod.URL, qa.URL)
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "E2E_QA_ID=qa-id", "E2E_QA_SECRET=qa-secret")

	out := w.mustPromoter(exitBlocked, "run", "--config", w.cfg)
	if !strings.Contains(out, "dev-to-prod: blocked") || !strings.Contains(out, "dev-to-qa: blocked") {
		t.Errorf("run did not run and report both pipelines:\n%s", out)
	}
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	out = w.mustPromoter(exitBlocked, "run", "--config", w.cfg)
	if !strings.Contains(out, "dev-to-prod: imported") || !strings.Contains(out, "dev-to-qa: blocked") {
		t.Errorf("one pipeline blocked must not stop the other:\n%s", out)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("prod real imports = %d, want 1", n)
	}
	w.mustPromoter(exitBlocked, "plan", "--config", w.cfg, "--pipeline", "dev-to-qa")
	w.mustPromoter(exitOK, "plan", "--config", w.cfg, "--pipeline", "dev-to-prod")
	if _, stderr, code := w.promoter("run", "--config", w.cfg, "--pipeline", "nope"); code != exitUsage || !strings.Contains(stderr, "dev-to-qa") {
		t.Errorf("unknown pipeline: exit %d, stderr %q", code, stderr)
	}
}
