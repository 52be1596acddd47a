package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promoter/diff"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// End-to-end tests of the repository model (DESIGN section 4, issue 12):
// baselines, observed state, rollback of any promotion, drift on every type,
// adoption, chains. Each drives the real binary against fake tenants and
// reads the repository back with the real git CLI.

// liveObject returns a fake tenant's object, failing the test when absent.
func liveObject(t *testing.T, srv *spconfigtest.Server, typ, name string) spconfig.Entry {
	t.Helper()
	for _, e := range srv.Objects(typ) {
		if e.Key().Name == name {
			return e
		}
	}
	t.Fatalf("fake tenant has no %s %s", typ, name)
	return spconfig.Entry{}
}

// sameObject reports whether two entries are equal under the cross-tenant
// rules (ids, volatile fields).
func sameObject(t *testing.T, a, b spconfig.Entry) bool {
	t.Helper()
	changes, err := objectChanges(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.Kind != diff.Unchanged {
			return false
		}
	}
	return true
}

// planJSON runs promoter plan --format json and returns the classes by object.
func (w *e2e) planJSON(want int, args ...string) map[string]string {
	w.t.Helper()
	out := w.mustPromoter(want, append([]string{"plan", "--config", w.cfg, "--format", "json"}, args...)...)
	var doc struct {
		Plan struct {
			Items []struct{ Object, Class string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		w.t.Fatalf("plan --format json: %v\n%s", err, out)
	}
	classes := map[string]string{}
	for _, it := range doc.Plan.Items {
		classes[it.Object] = it.Class
	}
	return classes
}

// TestRollbackOfTheFirstPromotionRestoresTheTarget: issue 12 failure 1. The
// first run takes prod's live objects as a baseline before promoting, so a
// git revert of the first promotion commit plus apply restores prod's own
// values, and the objects the promotion created are reported not-deleted on
// every plan until they are gone.
func TestRollbackOfTheFirstPromotionRestoresTheTarget(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	before := liveObject(t, w.prod, "TRANSFORM", "Get Worker Type")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if sameObject(t, before, liveObject(t, w.prod, "TRANSFORM", "Get Worker Type")) {
		t.Fatal("the first promotion did not change Get Worker Type: the test would prove nothing")
	}
	subjects := w.git("log", "--reverse", "--format=%s")
	if !strings.Contains(subjects, "Snapshot of tenant dev (acme-sb)\nBaseline of tenant prod (acme)\nPromote ") {
		t.Errorf("want snapshot, baseline, promotion in that order:\n%s", subjects)
	}
	// The baseline holds prod's own value, unchanged.
	baseline := w.git("log", "-1", "--format=%H", "--grep=^Baseline of tenant prod")
	if got := w.git("show", baseline+":tenants/prod/TRANSFORM/Get Worker Type.json"); !strings.Contains(got, `"$workerType"`) {
		t.Errorf("the baseline does not hold prod's Get Worker Type:\n%s", got)
	}
	first := w.git("log", "-1", "--format=%H", "--grep=^Promote")
	if st := w.git("diff", "--stat", baseline, first, "--", "tenants/prod/TRANSFORM/Get Worker Type.json"); st == "" {
		t.Error("the first promotion commit does not change Get Worker Type: its diff is not target-before -> target-after")
	}

	w.git("revert", "--no-edit", first)
	out := w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if strings.Contains(out, "NOTHING TO DO") {
		t.Fatalf("apply after the revert did nothing:\n%s", out)
	}
	if n := w.realImports(); n != 2 {
		t.Fatalf("real imports = %d, want 2 (promotion, rollback)", n)
	}
	if !sameObject(t, before, liveObject(t, w.prod, "TRANSFORM", "Get Worker Type")) {
		t.Errorf("prod's Get Worker Type was not restored: %s", liveObject(t, w.prod, "TRANSFORM", "Get Worker Type").Object())
	}
	// Created by the promotion, which SP-Config cannot delete: reported on
	// every plan (also after a further apply), never "only in target".
	for i := range 2 {
		classes := w.planJSON(exitOK, "--rev", "HEAD")
		for _, obj := range []string{"SOURCE ServiceNow", "TRIGGER_SUBSCRIPTION Access Request Pre-Approval"} {
			if classes[obj] != "not-deleted" {
				t.Errorf("plan %d: %s is %q, want not-deleted", i, obj, classes[obj])
			}
		}
		if classes["TRANSFORM Get Worker Type"] != "no-op" {
			t.Errorf("plan %d: Get Worker Type is %q after the rollback, want no-op", i, classes["TRANSFORM Get Worker Type"])
		}
		w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	}
	// The rollback sticks: the next run offers nothing again.
	head := w.git("rev-parse", "HEAD")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.git("rev-parse", "HEAD"); got != head {
		t.Errorf("the run after the rollback committed:\n%s", w.git("log", "--oneline", head+".."+got))
	}
	if st := w.git("status", "--porcelain"); st != "" {
		t.Errorf("working tree not clean:\n%s", st)
	}
	w.git("fsck", "--strict")
}

// TestRollbackCommandToTheFirstSnapshotRestoresTheTarget: promoter rollback
// --to the snapshot before the first promotion reverts the promotion but not
// the baseline, and restores prod.
func TestRollbackCommandToTheFirstSnapshotRestoresTheTarget(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	before := liveObject(t, w.prod, "SOURCE", "Active Directory")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	snapshot := w.git("log", "-1", "--format=%H", "--grep=^Snapshot of tenant dev")
	out := w.mustPromoter(exitOK, "rollback", "--config", w.cfg, "--pipeline", "dev-to-prod", "--to", snapshot)
	if !strings.Contains(out, "Rollback plan") || !strings.Contains(out, "SOURCE Active Directory") {
		t.Errorf("rollback did not show the plan:\n%s", out)
	}
	if !sameObject(t, before, liveObject(t, w.prod, "SOURCE", "Active Directory")) {
		t.Errorf("prod's Active Directory not restored by the rollback")
	}
	if got := w.git("log", "--format=%s", "-1"); !strings.HasPrefix(got, `Revert "Promote `) {
		t.Errorf("last commit %q, want the revert of the promotion", got)
	}
	if w.git("ls-tree", "-r", "--name-only", "HEAD", "tenants/prod/TRANSFORM") == "" {
		t.Error("the rollback emptied tenants/prod: the baseline was reverted")
	}
}

// TestFirstRunPreviewsThenBaselinesTheTargetsOwnValues: issue 12 failure 2.
// On a fresh setup plan and run --dry-run show the baseline, the proposal
// and the preview and write nothing; the first real run commits prod's
// prod-only hotfix as the baseline before dev's value replaces it.
func TestFirstRunPreviewsThenBaselinesTheTargetsOwnValues(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.editObject(w.prod, "TRANSFORM", "Lowercase Email", `"mail"`, `"mailHotfix"`)
	for _, args := range [][]string{{"plan", "--config", w.cfg}, {"run", "--dry-run", "--config", w.cfg}} {
		out, errOut, code := w.promoter(args...)
		if code != exitBlocked {
			t.Fatalf("%v on a fresh setup: exit %d, want 3 (the preview fails on Imogene Mendez)\n%s\n%s", args, code, out, errOut)
		}
		for _, want := range []string{"Dry run", "Baseline: ", "would be taken into tenants/prod/", "Proposal: ", "Imogene Mendez", "TRANSFORM Get Worker Type"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v does not say %q:\n%s", args, want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(w.repo, ".git")); err == nil {
			if refs := strings.TrimSpace(gitOut(t, filepath.Join(w.repo, ".git"), "for-each-ref")); refs != "" {
				t.Errorf("%v wrote refs:\n%s", args, refs)
			}
		}
	}
	if n := len(w.prod.Jobs()); n == 0 {
		t.Error("the dry runs did not preview against prod")
	}
	if n := w.realImports(); n != 0 {
		t.Fatalf("a dry run imported %d times", n)
	}
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	baseline := w.git("log", "-1", "--format=%H", "--grep=^Baseline of tenant prod")
	if got := w.git("show", baseline+":tenants/prod/TRANSFORM/Lowercase Email.json"); !strings.Contains(got, "mailHotfix") {
		t.Errorf("prod's hotfix is not in the baseline:\n%s", got)
	}
	if got := w.git("log", "-1", "--format=%(trailers:key=Promoter-Baseline,valueonly)", baseline); got == "" {
		t.Error("the baseline commit has no Promoter-Baseline trailer")
	}
	if got := w.git("show", "HEAD:tenants/prod/TRANSFORM/Lowercase Email.json"); strings.Contains(got, "mailHotfix") {
		t.Error("dev's value did not replace the hotfix in the desired state")
	}
	if w.git("rev-parse", "--verify", "refs/promoter/observed/prod") == "" {
		t.Error("no observed state recorded")
	}
}

// TestRevertedChangeIsOfferedAgainWhenTheSourceChangesIt: issue 12 failure
// 3. After a rollback by revert, the next dev change of that object is
// promoted (the reverted file counts as promoter's), with no conflict, and
// does not hold back another change of the same run.
func TestRevertedChangeIsOfferedAgainWhenTheSourceChangesIt(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	promotion := w.git("log", "-1", "--format=%H", "--grep=^Promote")
	w.git("revert", "--no-edit", promotion)
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if strings.Contains(string(liveObject(t, w.prod, "TRANSFORM", "Get Worker Type").Object()), "Contractor") {
		t.Fatal("the revert was not applied")
	}
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contractor", "Temporary")
	w.editObject(w.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	out := w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if strings.Contains(out, "conflict") && !strings.Contains(out, "conflict 0") {
		t.Errorf("the run after the revert reports a conflict:\n%s", out)
	}
	if !strings.Contains(string(liveObject(t, w.prod, "TRANSFORM", "Get Worker Type").Object()), "Temporary") {
		t.Error("dev's new change of the reverted object was not imported")
	}
	if !strings.Contains(string(liveObject(t, w.prod, "TRANSFORM", "Lowercase Email").Object()), `"email"`) {
		t.Error("the other change of the run was not imported")
	}
}

// TestDriftOnATypeSPConfigCannotImportIsDriftAndCanBeAdopted: issue 12
// failure 5. A ROLE changed in prod's UI is drift (not "deploy by hand"),
// blocks, and promoter adopt takes prod's version into git.
func TestDriftOnATypeSPConfigCannotImportIsDriftAndCanBeAdopted(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.editObject(w.prod, "ROLE", "2 entitlement role", `"2 entitlement role"`, `"changed in the UI"`)
	classes := w.planJSON(exitBlocked, "--rev", "HEAD")
	if classes["ROLE 2 entitlement role"] != "drift" {
		t.Fatalf("ROLE changed in prod is %q, want drift", classes["ROLE 2 entitlement role"])
	}
	out, _, code := w.promoter("plan", "--config", w.cfg, "--rev", "HEAD")
	if code != exitBlocked || !strings.Contains(out, "drift: ROLE 2 entitlement role changed in prod outside git") {
		t.Errorf("plan does not block on the ROLE drift (exit %d):\n%s", code, out)
	}
	if _, _, code := w.promoter("adopt", "--config", w.cfg, "--pipeline", "dev-to-prod", "--object", "ROLE:no such role"); code != exitUsage {
		t.Errorf("adopt of an unknown object: exit %d, want 2", code)
	}
	out = w.mustPromoter(exitOK, "adopt", "--config", w.cfg, "--pipeline", "dev-to-prod")
	if !strings.Contains(out, "adopted") {
		t.Errorf("adopt output:\n%s", out)
	}
	if got := w.git("log", "-1", "--format=%s"); got != "Adopt 1 object(s) from tenant prod (acme)" {
		t.Errorf("adoption commit %q", got)
	}
	if got := w.git("show", "HEAD:tenants/prod/ROLE/2 entitlement role.json"); !strings.Contains(got, "changed in the UI") {
		t.Errorf("the adopted file lacks prod's value:\n%s", got)
	}
	classes = w.planJSON(exitOK, "--rev", "HEAD")
	if classes["ROLE 2 entitlement role"] != "no-op" {
		t.Errorf("after adopt the ROLE is %q, want no-op", classes["ROLE 2 entitlement role"])
	}
	// A later dev change of an adopted object is promoted, not a conflict.
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
}

// TestExcludedObjectsAreAClassAndOverlappingPipelinesAreRefused: issue 12
// failure 6 (smaller ones): an excluded object is listed as excluded; two
// pipelines whose scopes overlap on one target are refused by validate.
func TestExcludedObjectsAreAClassAndOverlappingPipelinesAreRefused(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	classes := w.planJSON(exitBlocked)
	if classes["AUTH_ORG Authentication Configuration"] != "excluded" {
		t.Errorf("AUTH_ORG is %q, want excluded", classes["AUTH_ORG Authentication Configuration"])
	}
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg) + "    includeTypes: [TRANSFORM, RULE]\n  - name: hotfixes\n    source: dev\n    target: prod\n    includeTypes: [TRANSFORM, SOURCE]\n"
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := w.promoter("validate", "--config", w.cfg)
	if code != exitUsage || !strings.Contains(errOut, `"hotfixes" and "dev-to-prod"`) || !strings.Contains(errOut, "TRANSFORM") {
		t.Errorf("validate of overlapping pipelines: exit %d\n%s", code, errOut)
	}
}

// TestMappingAddedAfterTheFirstPromotionIsOfferedWithoutConflict: adding a
// mapping re-offers the object with the mapped value; the file only promoter
// wrote is no conflict.
func TestMappingAddedAfterTheFirstPromotionIsOfferedWithoutConflict(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg) + "    mappings:\n      - { type: TRANSFORM, name: Get Worker Type, path: $.attributes.value, from: \"#if($workerType=='Employee')Full-Time#{else}Contingent#end\", to: \"$workerType-mapped\" }\n"
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if strings.Contains(out, "conflict:") {
		t.Errorf("adding a mapping made a conflict:\n%s", out)
	}
	if got := string(liveObject(t, w.prod, "TRANSFORM", "Get Worker Type").Object()); !strings.Contains(got, "$workerType-mapped") {
		t.Errorf("the mapped value was not imported: %s", got)
	}
}

// chainConfig is a three-stage chain sandbox -> uat -> prod.
const chainConfig = `repo:
  path: ./repo
tenants:
  sandbox: { baseURL: %s, clientIDEnv: E2E_DEV_ID, clientSecretEnv: E2E_DEV_SECRET }
  uat:     { baseURL: %s, clientIDEnv: E2E_PROD_ID, clientSecretEnv: E2E_PROD_SECRET }
  prod:    { baseURL: %s, clientIDEnv: E2E_PROD_ID, clientSecretEnv: E2E_PROD_SECRET }
pipelines:
  - name: sandbox-to-uat
    source: sandbox
    target: uat
    exclude: [{ type: AUTH_ORG }]
    gate: { allowWarnings: ["^Object to be imported"] }
  - name: uat-to-prod
    source: uat
    target: prod
    exclude: [{ type: AUTH_ORG }]
    gate: { allowWarnings: ["^Object to be imported"] }
`

// TestThreeStageChain: issue 12 failure 4. A sandbox change reaches prod
// through uat; a change blocked in uat is kept and imported once fixed; a
// hand edit in uat blocks and never reaches prod; runs with no change are
// quiet.
func TestThreeStageChain(t *testing.T) {
	t.Parallel()
	samples := sharedSamples(t)
	w := &e2e{t: t, dir: t.TempDir()}
	w.repo = filepath.Join(w.dir, "repo")
	start := func(name string) *spconfigtest.Server {
		opts := sampleOptions(t, samples, name)
		if name == "prod" {
			opts.ClientID, opts.ClientSecret = "prod-id", "prod-secret-XYZZY"
		}
		srv, err := spconfigtest.Start("127.0.0.1:0", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	sandbox, uat, prod := start("dev"), start("prod"), start("prod")
	w.dev, w.prod = sandbox, prod
	w.cfg = filepath.Join(w.dir, "promotion.yaml")
	if err := os.WriteFile(w.cfg, []byte(fmt.Sprintf(chainConfig, sandbox.URL, uat.URL, prod.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = append(os.Environ(), "E2E_DEV_ID=dev-id", "E2E_DEV_SECRET=dev-secret-XYZZY",
		"E2E_PROD_ID=prod-id", "E2E_PROD_SECRET=prod-secret-XYZZY", "NO_COLOR=1")
	imports := func(srv *spconfigtest.Server) int {
		n := 0
		for _, j := range srv.Jobs() {
			if j.Type == spconfig.JobImport && !j.Preview {
				n++
			}
		}
		return n
	}
	w.mustPromoter(exitOK, "validate", "--config", w.cfg)
	prod.AddIdentity("Imogene Mendez")

	// 1. uat lacks the ServiceNow owner: sandbox -> uat is blocked; prod
	// gets nothing, since nothing was applied in uat.
	out := w.mustPromoter(exitBlocked, "run", "--config", w.cfg)
	if !strings.Contains(out, "Imogene Mendez") {
		t.Errorf("the blocked run does not name the missing identity:\n%s", out)
	}
	if imports(uat)+imports(prod) != 0 {
		t.Fatal("a blocked chain imported")
	}
	// 2. The blocked change stays proposed in tenants/uat.
	w.mustPromoter(exitBlocked, "run", "--config", w.cfg)
	if w.git("ls-files", "tenants/uat/SOURCE/ServiceNow.json") == "" {
		t.Fatal("the blocked ServiceNow change was removed from tenants/uat")
	}
	// 3. Fixed: both stages import in one run; uat was never exported as a
	// source (only observed as a target).
	uat.AddIdentity("Imogene Mendez")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if imports(uat) != 1 || imports(prod) != 1 {
		t.Fatalf("imports uat %d prod %d, want 1 and 1", imports(uat), imports(prod))
	}
	if w.git("ls-tree", "-r", "--name-only", "HEAD", "tenants/uat") == "" || w.git("log", "--format=%s", "--grep=^Snapshot of tenant uat") != "" {
		t.Error("uat was snapshotted as a source")
	}
	if !sameObject(t, liveObject(t, sandbox, "TRANSFORM", "Get Worker Type"), liveObject(t, prod, "TRANSFORM", "Get Worker Type")) {
		t.Error("sandbox's Get Worker Type did not reach prod")
	}
	liveObject(t, prod, "SOURCE", "ServiceNow")
	// 4. Quiet when nothing changed; promoter export never snapshots uat.
	head := w.git("rev-parse", "HEAD")
	out = w.mustPromoter(exitOK, "export", "--config", w.cfg)
	if !strings.Contains(out, "uat is the target of pipeline sandbox-to-uat") {
		t.Errorf("export of the chain does not say why uat is not exported:\n%s", out)
	}
	if got := w.git("rev-parse", "HEAD"); got != head {
		t.Errorf("promoter export committed in a quiet chain:\n%s", w.git("log", "--stat", "--oneline", head+".."+got))
	}
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.git("rev-parse", "HEAD"); got != head || imports(uat) != 1 || imports(prod) != 1 {
		t.Errorf("a run with no change committed or imported:\n%s", w.git("log", "--oneline", head+".."+got))
	}
	// 5. A sandbox change goes through uat to prod.
	w.editObject(sandbox, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if !strings.Contains(string(liveObject(t, prod, "TRANSFORM", "Lowercase Email").Object()), `"email"`) {
		t.Error("the sandbox change did not reach prod")
	}
	// 6. A hand edit in uat is drift in uat and never reaches prod.
	w.editObject(uat, "TRANSFORM", "Get Worker Type", "Contingent", "HandEdit")
	sandboxChange := func() { w.editObject(sandbox, "TRANSFORM", "Get Worker Type", "Contingent", "Sandbox2") }
	sandboxChange()
	prodImports := imports(prod)
	out = w.mustPromoter(exitBlocked, "run", "--config", w.cfg)
	if !strings.Contains(out, "TRANSFORM Get Worker Type") {
		t.Errorf("the uat hand edit is not reported:\n%s", out)
	}
	if strings.Contains(string(liveObject(t, prod, "TRANSFORM", "Get Worker Type").Object()), "HandEdit") {
		t.Error("uat's hand edit reached prod")
	}
	if imports(prod) != prodImports {
		t.Error("prod imported while uat was blocked")
	}
	w.git("fsck", "--strict")
}

// TestRepositoryFromBeforeBaselinesKeepsWorking: a repository of the earlier
// model (target folder holding only promoted files, no observed ref) is
// migrated by the next run: it says so once, baselines the live objects that
// have no file, records the reference, and re-imports nothing.
func TestRepositoryFromBeforeBaselinesKeepsWorking(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	// Make it look like the earlier model wrote it: no observations, and the
	// prod-only object that a baseline took is not in the folder.
	w.git("update-ref", "-d", "refs/promoter/observed/prod")
	w.git("rm", "-q", "tenants/prod/TRANSFORM/Timestamp To Date.json")
	w.git("commit", "-q", "-m", "earlier model: only promoted files")
	imports := w.realImports()

	_, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitOK {
		t.Fatalf("migration run: exit %d\n%s", code, errOut)
	}
	if n := strings.Count(errOut, "no drift reference recorded yet"); n != 1 {
		t.Errorf("the migration is logged %d times, want once:\n%s", n, errOut)
	}
	if w.realImports() != imports {
		t.Error("the migration run imported")
	}
	if got := w.git("log", "-1", "--format=%s"); got != "Baseline of tenant prod (acme)" {
		t.Errorf("last commit %q, want the baseline of the object without a file", got)
	}
	if w.git("ls-files", "tenants/prod/TRANSFORM/Timestamp To Date.json") == "" {
		t.Error("the live object without a file was not baselined")
	}
	head := w.git("rev-parse", "HEAD")
	_, errOut, _ = w.promoter("run", "--config", w.cfg)
	if strings.Contains(errOut, "no drift reference recorded yet") || w.git("rev-parse", "HEAD") != head || w.realImports() != imports {
		t.Errorf("the run after the migration migrated again, committed or imported:\n%s", errOut)
	}
}

// TestPlanWritesTheConfigurationHubUploadFile: without the Configuration
// Hub option, plan --upload-file writes the upload document of exactly the
// changed objects SP-Config cannot import, and the plan says how (issue 16).
func TestPlanWritesTheConfigurationHubUploadFile(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	file := filepath.Join(w.dir, "upload.json")
	out := w.mustPromoter(exitOK, "plan", "--config", w.cfg, "--rev", "HEAD", "--upload-file", file)
	if !strings.Contains(out, "plan --upload-file FILE writes their upload document") {
		t.Errorf("the plan does not offer the upload file:\n%s", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spconfig.ReadExport(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the upload file is not an export document: %v", err)
	}
	var got []string
	for _, e := range doc.Objects {
		if spconfig.Importable(e.Type()) {
			t.Errorf("the upload file holds importable %s", e.Key())
		}
		got = append(got, e.Key().String())
	}
	classes := w.planJSON(exitOK, "--rev", "HEAD")
	var want []string
	for obj, c := range classes {
		if c == "not-importable" {
			want = append(want, obj)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("the upload file holds %v, want the not-importable objects %v", got, want)
	}
}

// TestPlanUploadFileNeedsOnePipeline: with several pipelines, plan
// --upload-file without --pipeline asks for one (exit 2) and writes nothing,
// instead of writing the file once per pipeline with the last one winning.
func TestPlanUploadFileNeedsOnePipeline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "promotion.yaml")
	text := fmt.Sprintf(chainConfig, "http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "upload.json")
	cmd := promoterCommand(append(os.Environ(), "E2E_DEV_ID=dev-id", "E2E_DEV_SECRET=s", "E2E_PROD_ID=prod-id", "E2E_PROD_SECRET=s"),
		"plan", "--config", cfg, "--upload-file", file)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("plan --upload-file with two pipelines: %v, want exit %d\n%s", err, exitUsage, out)
	}
	if !strings.Contains(string(out), "choose one with --pipeline NAME") {
		t.Errorf("the error does not say to choose a pipeline:\n%s", out)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the upload file was written (stat: %v)", err)
	}
}

// TestUnchangedRunWritesNothing: issue 18 (model v2): once a run has
// imported, a run with nothing changed in either tenant makes no commit (the
// branch, the observed state, the applied ref, the offered ref and the
// notes stay where they are), imports nothing and leaves the working tree
// equal to HEAD.
func TestUnchangedRunWritesNothing(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if w.realImports() != 1 {
		t.Fatalf("the first run did not import: the test proves nothing")
	}
	refs := func() string {
		return w.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/notes", "refs/promoter/observed", "refs/promoter/applied", "refs/promoter/offered")
	}
	before := refs()
	if !strings.Contains(before, "refs/promoter/observed/prod") || !strings.Contains(before, "refs/promoter/offered/dev-to-prod") {
		t.Fatalf("no observed state or offered ref after the first run:\n%s", before)
	}
	out := w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if after := refs(); after != before {
		t.Errorf("a run with nothing changed moved refs:\nbefore:\n%s\nafter:\n%s\nrun:\n%s", before, after, out)
	}
	if !strings.Contains(out, "same as the last observation") {
		t.Errorf("the observation of the unchanged target was not reported as unchanged:\n%s", out)
	}
	if n := w.realImports(); n != 1 {
		t.Errorf("real imports = %d, want 1", n)
	}
	w.intact()
}
