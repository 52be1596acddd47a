package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// End-to-end tests of issue 14: safe value mappings with an environment-leak
// guard, and a CLI that never says the wrong thing.

// TestChangedSourceValueNeverLeaksThroughAMapping: issue 14 items 1-2. Dev's
// AD host changes from the mapping's from to another dev host: the run is
// blocked (exit 3) naming the mapping, its line and the value, and nothing
// is imported; a dev value holding the dev org name is a leak.
func TestChangedSourceValueNeverLeaksThroughAMapping(t *testing.T) {
	t.Parallel()
	w := newE2E(t, `    mappings:
      - { type: SOURCE, name: Active Directory, path: $.connectorAttributes.host, from: ad.dev.acme.local, to: ad.acme.local }
`)
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.editObject(w.dev, "SOURCE", "Active Directory", `"healthCheckTimeout"`, `"host": "ad.dev.acme.local", "healthCheckTimeout"`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := string(liveObject(t, w.prod, "SOURCE", "Active Directory").Object()); !strings.Contains(got, `"ad.acme.local"`) {
		t.Fatalf("the mapped host was not imported: %s", got)
	}
	imports := w.realImports()

	w.editObject(w.dev, "SOURCE", "Active Directory", `"ad.dev.acme.local"`, `"ad2.dev.acme.local"`)
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contingent (acme-sb)")
	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitBlocked {
		t.Fatalf("run after the dev host changed: exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		`mapping pipelines[0].mappings[0] (line 21) does not apply to SOURCE Active Directory: $.connectorAttributes.host holds "ad2.dev.acme.local", neither from "ad.dev.acme.local" nor to "ad.acme.local"`,
		`environment leak: TRANSFORM Get Worker Type $.attributes.value holds "#if($workerType=='Employee')Full-Time#{else}Contingent (acme-sb)#end", which contains "acme-sb" (the org name of tenant dev)`,
	} {
		if !strings.Contains(out, want) || !strings.Contains(errOut, want) {
			t.Errorf("stdout and stderr do not both say %q\nstdout:\n%s\nstderr:\n%s", want, out, errOut)
		}
	}
	if w.realImports() != imports {
		t.Error("the dev host was imported")
	}
	if got := string(liveObject(t, w.prod, "SOURCE", "Active Directory").Object()); strings.Contains(got, "dev.acme.local") {
		t.Errorf("prod holds a dev host: %s", got)
	}

	// Correcting the mapping and allowing the one intended value unblocks.
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "from: ad.dev.acme.local", "from: ad2.dev.acme.local", 1)
	text = strings.Replace(text, `      allowWarnings: ["^Object to be imported"]`+"\n", `      allowWarnings: ["^Object to be imported"]`+"\n"+`      allowLeaks: [{type: TRANSFORM, name: Get Worker Type, path: "$.attributes.value"}]`+"\n", 1)
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := string(liveObject(t, w.prod, "SOURCE", "Active Directory").Object()); !strings.Contains(got, `"ad.acme.local"`) || strings.Contains(got, "dev.acme.local") {
		t.Errorf("prod's host after the corrected mapping: %s", got)
	}
}

// TestPlanReportsRulesThatMatchNothing: issue 14 item 5. An exclude or a
// mapping whose name matches no object of the export is reported by plan
// (text and JSON) with its line and the likely name; rules that match are not.
func TestPlanReportsRulesThatMatchNothing(t *testing.T) {
	t.Parallel()
	w := newE2E(t, `    mappings:
      - { type: TRANSFORM, name: Lowercase Emial, path: $.attributes.value, from: a, to: b }
`)
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "      - type: AUTH_ORG\n", "      - type: AUTH_ORG\n      - { type: TRANSFORM, name: Get Worker Typ }\n", 1)
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ := w.promoter("plan", "--config", w.cfg)
	for _, want := range []string{
		`Warning: pipelines[0].exclude[1] (line 18) {type: TRANSFORM, name: "Get Worker Typ"} matches no object of the dev export or of prod (did you mean "Get Worker Type"?)`,
		`Warning: pipelines[0].mappings[0] (line 22) {type: TRANSFORM, name: "Lowercase Emial"} matches no object of the dev export (did you mean "Lowercase Email"?)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan does not report %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "exclude[0]") {
		t.Errorf("plan reports the AUTH_ORG exclude, which matches:\n%s", out)
	}
	jsonOut, _, _ := w.promoter("plan", "--config", w.cfg, "--format", "json")
	var doc struct {
		Plan struct {
			UnmatchedRules []struct{ Rule, Type, Name, Message string } `json:"unmatchedRules"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
		t.Fatalf("plan --format json: %v\n%s", err, jsonOut)
	}
	if n := len(doc.Plan.UnmatchedRules); n != 2 || doc.Plan.UnmatchedRules[0].Name != "Get Worker Typ" {
		t.Errorf("JSON unmatchedRules = %+v, want the exclude and the mapping", doc.Plan.UnmatchedRules)
	}
}

// TestFailedAndBlockedFlowsSayWhatHappened: issue 14 item 7. A failed
// export job, a secret-scan refusal and a bad --rev/--to print the real
// outcome, never nothing-to-do; a bad --rev or --to is exit 2 for plan,
// apply and rollback.
func TestFailedAndBlockedFlowsSayWhatHappened(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	noNothing := func(label, out string, want string) {
		t.Helper()
		if strings.Contains(out, "nothing-to-do") || !strings.Contains(out, "dev-to-prod: "+want) {
			t.Errorf("%s: stdout does not say %q (or says nothing-to-do):\n%s", label, "dev-to-prod: "+want, out)
		}
	}
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, append(slices.Clip(cfg), "    guard: {minObjects: 1000}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := w.promoter("run", "--config", w.cfg)
	if code != exitBlocked {
		t.Errorf("guard block: exit %d, want 3", code)
	}
	noNothing("guard block", out, "blocked")
	if err := os.WriteFile(w.cfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}

	w.dev.SetFaults("fail-export=1")
	out, _, code = w.promoter("run", "--config", w.cfg)
	if code != exitRuntime {
		t.Errorf("failed export job: exit %d, want 1", code)
	}
	noNothing("failed export job", out, "failed")
	w.dev.SetFaults("")

	w.editObject(w.dev, "SOURCE", "Active Directory", `"healthCheckTimeout"`, `"password": "hunter2-XYZZY", "healthCheckTimeout"`)
	out, _, code = w.promoter("run", "--config", w.cfg)
	if code == exitOK {
		t.Errorf("secret-scan refusal: exit 0")
	}
	noNothing("secret-scan refusal", out, "failed")
	w.editObject(w.dev, "SOURCE", "Active Directory", `"hunter2-XYZZY"`, `null`) // a password field holding no string is no secret

	out, _, code = w.promoter("run", "--config", w.cfg) // blocked: Imogene Mendez is missing in prod
	if code != exitBlocked {
		t.Fatalf("run: exit %d, want 3\n%s", code, out)
	}
	noNothing("gate block", out, "blocked")
	for _, args := range [][]string{
		{"plan", "--config", w.cfg, "--rev", "no-such-rev"},
		{"apply", "--config", w.cfg, "--rev", "no-such-rev"},
		{"rollback", "--config", w.cfg, "--pipeline", "dev-to-prod", "--to", "no-such-rev"},
	} {
		out, errOut, code := w.promoter(args...)
		if code != exitUsage || !strings.Contains(errOut, `"no-such-rev"`) {
			t.Errorf("%s: exit %d, want 2 naming the revision\n%s", args[0], code, errOut)
		}
		if n := strings.Count(errOut, `"no-such-rev"`); n != 1 { // issue 17 item 11: no stutter
			t.Errorf("%s: the error names the revision %d times, want once:\n%s", args[0], n, errOut)
		}
		if args[0] != "plan" {
			noNothing(args[0]+" with a bad revision", out, "failed")
		}
	}
}

// TestPushFailureKeepsTheGateBlock: issue 14 item 7. When the push after a
// blocked run fails, the exit code stays 3 and the block's reasons are
// printed, with the push failure.
func TestPushFailureKeepsTheGateBlock(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	remote := filepath.Join(w.dir, "remote.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", remote).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, []byte(strings.Replace(string(cfg), "  path: ./repo\n", "  path: ./repo\n  remote: "+remote+"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(remote, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho refused by the test hook >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := w.promoter("run", "--config", w.cfg) // blocked: Imogene Mendez is missing in prod
	if code != exitBlocked {
		t.Fatalf("blocked run with a failing push: exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "Imogene Mendez") || !strings.Contains(errOut, "push") {
		t.Errorf("stderr does not give both the block's reasons and the push failure:\n%s", errOut)
	}
	if !strings.Contains(out, "dev-to-prod: blocked") {
		t.Errorf("stdout does not say blocked:\n%s", out)
	}
}

// TestDiffOfOneFileAndAssembleOfAFolderWithoutObjects: issue 14 item 10.
// diff REV1 REV2 FILE shows that object's diff; a path in neither revision
// is exit 2; assemble of a folder without object files is an error naming
// the expected layout.
func TestDiffOfOneFileAndAssembleOfAFolderWithoutObjects(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.mustPromoter(exitOK, "export", "--config", w.cfg)
	first := w.git("rev-parse", "HEAD")
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "export", "--config", w.cfg)
	second := w.git("rev-parse", "HEAD")
	out := w.mustPromoter(exitOK, "diff", "--repo", w.repo, first, second, "tenants/dev/TRANSFORM/Get Worker Type.json")
	if !strings.Contains(out, "TRANSFORM Get Worker Type") || !strings.Contains(out, "$.attributes.value") || strings.Contains(out, "No objects") {
		t.Errorf("diff of one file does not show its change:\n%s", out)
	}
	_, errOut, code := w.promoter("diff", "--repo", w.repo, first, second, "tenants/dev/TRANSFORM/Get Worker Typ.json")
	if code != exitUsage || !strings.Contains(errOut, "holds no object file") {
		t.Errorf("diff of a path in neither revision: exit %d, want 2\n%s", code, errOut)
	}
	_, errOut, code = w.promoter("assemble", "--in", w.repo, "--out", filepath.Join(w.dir, "out.json"))
	if code != exitUsage || !strings.Contains(errOut, "<TYPE>/<name>.json") || !strings.Contains(errOut, "tenants/<tenant>") {
		t.Errorf("assemble of a repository root: exit %d, want 2 naming the layout\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "out.json")); err == nil {
		t.Error("assemble wrote an empty export document")
	}
}

// TestUntrustedCertificateSaysSoAndSSLCertFileTrustsIt: issue 14 item 11.
// A tenant whose certificate is not trusted fails with that message and the
// way to trust a private CA; SSL_CERT_FILE naming the CA makes the run work.
func TestUntrustedCertificateSaysSoAndSSLCertFileTrustsIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	srv := httptest.NewTLSServer(w.dev.Tenant)
	defer srv.Close()
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, []byte(strings.Replace(string(cfg), w.dev.URL, srv.URL, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := w.exec(nil, "export", "--config", w.cfg)
	if msg := lastError(r.stderr); r.code != exitRuntime || !strings.Contains(msg, "the tenant's certificate is not trusted") || !strings.Contains(msg, "SSL_CERT_FILE") || strings.Contains(msg, "no answer from the tenant") {
		t.Fatalf("want exit 1 saying the certificate is not trusted and how to trust it, got %s", r)
	}
	ca := filepath.Join(w.dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := w.exec([]string{"SSL_CERT_FILE=" + ca}, "export", "--config", w.cfg); r.code != exitOK {
		t.Fatalf("export with SSL_CERT_FILE naming the CA: %s", r)
	}
}

// TestValidateRefusesARepoPathThatIsAFile: issue 14 item 11, through the
// binary: exit 2 with the line of repo.path.
func TestValidateRefusesARepoPathThatIsAFile(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	if err := os.WriteFile(w.repo, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := w.promoter("validate", "--config", w.cfg)
	if code != exitUsage || !strings.Contains(errOut, "promotion.yaml:2: repo.path:") || !strings.Contains(errOut, "is a file") {
		t.Errorf("validate with repo.path a file: exit %d, want 2 naming line 2\n%s", code, errOut)
	}
}
