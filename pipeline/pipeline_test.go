package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"promoter/config"
	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// harness is two in-process fake tenants seeded from the embedded samples, a
// real repository in a temporary folder, and a runner wired to them through
// the real client.
type harness struct {
	t         *testing.T
	dev, prod *spconfigtest.Server
	store     *gitstore.Repo
	cfg       *config.Config
	sec       *config.Secrets
}

const harnessConfig = `repo:
  path: %s
tenants:
  dev:
    baseURL: %s
    clientIDEnv: DEV_ID
    clientSecretEnv: DEV_SECRET
  prod:
    baseURL: %s
    clientIDEnv: PROD_ID
    clientSecretEnv: PROD_SECRET
pipelines:
  - name: dev-to-prod
    source: dev
    target: prod
    exclude:
      - type: AUTH_ORG
    gate:
      allowWarnings: ["^Object to be imported"]
%s`

func newHarness(t *testing.T, extra string) *harness {
	t.Helper()
	h := &harness{t: t}
	for _, name := range []string{"dev", "prod"} {
		seed, err := spconfigtest.SampleExport(name)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := spconfigtest.SampleIdentities(name)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: seed, Identities: ids, ClientID: name, ClientSecret: name + "-secret"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if name == "dev" {
			h.dev = srv
		} else {
			h.prod = srv
		}
	}
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "promotion.yaml"), fmt.Appendf(nil, harnessConfig, filepath.Join(dir, "repo"), h.dev.URL, h.prod.URL, extra))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEV_ID": "dev", "DEV_SECRET": "dev-secret", "PROD_ID": "prod", "PROD_SECRET": "prod-secret"}
	sec, err := cfg.ResolveSecrets(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(context.Background(), cfg, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.cfg, h.sec, h.store = cfg, sec, store
	return h
}

func (h *harness) runner() *Runner {
	h.t.Helper()
	r, err := NewRunner(h.cfg, h.sec, "", h.store, Env{})
	if err != nil {
		h.t.Fatal(err)
	}
	r.Wait = spconfig.WaitOptions{MinInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond}
	return r
}

func (h *harness) realImports() int {
	n := 0
	for _, j := range h.prod.Jobs() {
		if j.Type == spconfig.JobImport && !j.Preview {
			n++
		}
	}
	return n
}

// promoteClean runs the first promotion to an imported state.
func (h *harness) promoteClean() {
	h.t.Helper()
	h.prod.AddIdentity("Imogene Mendez")
	res, err := h.runner().Run(context.Background(), RunOptions{})
	if err != nil || res.Outcome != OutcomeImported {
		h.t.Fatalf("first promotion: outcome %v, err %v", res.Outcome, err)
	}
}

// editObject changes an object in a fake tenant as an edit in the UI would.
func editObject(t *testing.T, srv *spconfigtest.Server, typ, name, old, new string) {
	t.Helper()
	for _, e := range srv.Objects(typ) {
		if e.Key().Name != name {
			continue
		}
		obj := strings.Replace(string(e.Object()), old, new, 1)
		if obj == string(e.Object()) {
			t.Fatalf("%s %s has no %q", typ, name, old)
		}
		ne, err := e.WithObject([]byte(obj))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.PutObject(ne); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no %s %s", typ, name)
}

func itemClass(pl *Plan, object string) Class {
	for _, it := range pl.Items {
		if it.Object() == object {
			return it.Class
		}
	}
	return ""
}

func TestFirstRunBlockedByMissingOwnerThenImports(t *testing.T) {
	h := newHarness(t, "")
	res, err := h.runner().Run(context.Background(), RunOptions{})
	if !IsBlocked(err) {
		t.Fatalf("first run: want blocked, got %v", err)
	}
	if !strings.Contains(err.Error(), "Imogene Mendez") {
		t.Errorf("blocked reason does not name the missing identity: %v", err)
	}
	if h.realImports() != 0 {
		t.Fatal("a blocked run imported")
	}
	want := map[string]Class{
		"SOURCE ServiceNow":                        ClassApply,
		"SOURCE Active Directory":                  ClassApply,
		"RULE Email Correlation":                   ClassApply,
		"ROLE 2 entitlement role":                  ClassNotImportable,
		"TRANSFORM Timestamp To Date":              ClassNoop, // prod-only: taken into the baseline
		"TRANSFORM Build Display Name":             ClassNoop,
		"LIFECYCLE_STATE Contractors / terminated": ClassNotImportable,
	}
	for obj, c := range want {
		if got := itemClass(res.Plan, obj); got != c {
			t.Errorf("%s: class %q, want %q", obj, got, c)
		}
	}
	if got := itemClass(res.Plan, "AUTH_ORG Authentication Configuration"); got != ClassExcluded {
		t.Errorf("AUTH_ORG is excluded by policy: class %q, want %q", got, ClassExcluded)
	}
	h.promoteClean()
	if n := h.realImports(); n != 1 {
		t.Fatalf("real imports = %d, want 1", n)
	}
	// Nothing changed: no commit, no import.
	head, _ := h.store.Head()
	res, err = h.runner().Run(context.Background(), RunOptions{})
	if err != nil || res.Outcome != OutcomeNothing {
		t.Fatalf("unchanged run: %v %v", res.Outcome, err)
	}
	if h2, _ := h.store.Head(); h2 != head || h.realImports() != 1 {
		t.Errorf("unchanged run committed or imported: head %s -> %s, imports %d", head, h2, h.realImports())
	}
}

func TestDriftBlocksUnlessOverwrite(t *testing.T) {
	for _, tc := range []struct {
		onDrift string
		wantErr bool
	}{{"block", true}, {"overwrite", false}} {
		t.Run(tc.onDrift, func(t *testing.T) {
			h := newHarness(t, "      onDrift: "+tc.onDrift+"\n")
			h.promoteClean()
			editObject(t, h.prod, "TRANSFORM", "Get Worker Type", "Full-Time", "Permanent")
			res, err := h.runner().Run(context.Background(), RunOptions{})
			if got := itemClass(res.Plan, "TRANSFORM Get Worker Type"); got != ClassDrift {
				t.Fatalf("class %q, want drift", got)
			}
			if tc.wantErr != IsBlocked(err) {
				t.Fatalf("onDrift %s: err %v", tc.onDrift, err)
			}
			wantImports := 1
			if !tc.wantErr {
				wantImports = 2
			}
			if n := h.realImports(); n != wantImports {
				t.Errorf("real imports %d, want %d", n, wantImports)
			}
		})
	}
}

func TestConflictWhenTargetFileEditedAndSourceChanged(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	r := h.runner()
	head, _ := h.store.Head()
	path := "tenants/prod/TRANSFORM/Get Worker Type.json"
	data, ok, err := h.store.ReadFile(head, path)
	if err != nil || !ok {
		t.Fatalf("read %s: %v %v", path, ok, err)
	}
	hand := []byte(strings.Replace(string(data), "Full-Time", "Salaried", 1))
	if _, err := h.store.Commit(context.Background(), gitstore.CommitSpec{Message: "hand edit", Changes: []gitstore.Change{{Path: path, Content: hand}}}); err != nil {
		t.Fatal(err)
	}
	editObject(t, h.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	offered, _ := h.store.Ref(offeredRef("dev-to-prod"))
	res, err := r.Run(context.Background(), RunOptions{})
	if !IsBlocked(err) || !strings.Contains(err.Error(), "Get Worker Type") || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("want a conflict block naming the object, got %v", err)
	}
	// The plan shows both sides: the person's target file and the mapped
	// source version.
	var text strings.Builder
	if err := RenderPlan(&text, res.Plan, FormatText, false); err != nil {
		t.Fatal(err)
	}
	if out := text.String(); !strings.Contains(out, "Conflicts (target file -> mapped source version)") ||
		!strings.Contains(out, "Salaried") || !strings.Contains(out, "Contractor") {
		t.Errorf("the plan does not show both sides of the conflict:\n%s", out)
	}
	head, _ = h.store.Head()
	got, _, _ := h.store.ReadFile(head, path)
	if string(got) != string(hand) {
		t.Error("the hand-edited target file was overwritten")
	}
	if now, _ := h.store.Ref(offeredRef("dev-to-prod")); now != offered {
		t.Error("offered advanced past an unresolved conflict")
	}
	if h.realImports() != 1 {
		t.Error("a conflicted run imported")
	}
}

func TestRemovedObjectReportedNotDeleted(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	if _, err := h.store.Commit(context.Background(), gitstore.CommitSpec{Message: "drop a transform",
		Changes: []gitstore.Change{{Path: "tenants/prod/TRANSFORM/Get Worker Type.json"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := h.runner().Plan(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := itemClass(res.Plan, "TRANSFORM Get Worker Type"); got != ClassNotDeleted {
		t.Errorf("class %q, want not-deleted", got)
	}
	if res.Plan.ImportCount() != 0 {
		t.Errorf("a removal would import %d objects", res.Plan.ImportCount())
	}
}

func TestManualModeStopsBeforeImport(t *testing.T) {
	h := newHarness(t, "    mode: manual\n")
	h.prod.AddIdentity("Imogene Mendez")
	res, err := h.runner().Run(context.Background(), RunOptions{})
	if err != nil || res.Outcome != OutcomeManual {
		t.Fatalf("manual run: %v %v", res.Outcome, err)
	}
	if h.realImports() != 0 {
		t.Fatal("manual mode imported")
	}
	res, err = h.runner().Apply(context.Background(), "")
	if err != nil || res.Outcome != OutcomeImported || h.realImports() != 1 {
		t.Fatalf("apply: %v %v, imports %d", res.Outcome, err, h.realImports())
	}
}

func TestGuardRefusesLargeDrop(t *testing.T) {
	h := newHarness(t, "")
	if _, err := h.runner().Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	head, _ := h.store.Head()
	for _, e := range h.dev.Objects("TRANSFORM")[:5] {
		if err := h.dev.DeleteObject("TRANSFORM", e.Key().Name); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.runner().Export(context.Background())
	if !IsBlocked(err) || !strings.Contains(err.Error(), "TRANSFORM: 9 objects in the last snapshot, 4 in this export") {
		t.Fatalf("want a guard block naming TRANSFORM, got %v", err)
	}
	if h2, _ := h.store.Head(); h2 != head {
		t.Error("the guard let a commit through")
	}
}

func TestMappingAppliedOnPromotionAndRefusedOnSigned(t *testing.T) {
	// "mail" (a mapping's from) is also an AD search attribute: allowed there.
	h := newHarness(t, `      allowLeaks: [{type: SOURCE, name: Active Directory, path: "$.connectorAttributes.authSearchAttributes[2]"}]
    mappings:
      - { type: SOURCE, name: Active Directory, path: $.connectorAttributes.healthCheckTimeout, from: "30", to: "60", optional: true }
      - { type: TRANSFORM, name: Lowercase Email, path: "$.attributes.input.attributes.attributeName", from: mail, to: userPrincipalName }
`)
	h.prod.AddIdentity("Imogene Mendez")
	if _, err := h.runner().Run(context.Background(), RunOptions{}); err != nil {
		t.Fatal(err)
	}
	head, _ := h.store.Head()
	dev, _, _ := h.store.ReadFile(head, "tenants/dev/TRANSFORM/Lowercase Email.json")
	prod, _, _ := h.store.ReadFile(head, "tenants/prod/TRANSFORM/Lowercase Email.json")
	if !strings.Contains(string(dev), `"mail"`) || !strings.Contains(string(prod), `"userPrincipalName"`) || strings.Contains(string(prod), `"mail"`) {
		t.Errorf("mapping not applied to the target file only:\ndev:\n%s\nprod:\n%s", dev, prod)
	}
	// The healthCheckTimeout mapping compares strings; the value is a number,
	// so it must not apply.
	ad, _, _ := h.store.ReadFile(head, "tenants/prod/SOURCE/Active Directory.json")
	if !strings.Contains(string(ad), `"healthCheckTimeout": 30`) {
		t.Errorf("a string mapping changed a number:\n%s", ad)
	}

	var rule spconfig.Entry
	for _, e := range h.dev.Objects("RULE") {
		rule = e
	}
	p := &config.Pipeline{Mappings: []config.Mapping{{Type: "RULE", Name: rule.Key().Name, Path: "$.name", From: "x", To: "y"}}}
	if _, _, err := mapEntry(p, rule); err == nil || !strings.Contains(err.Error(), "signed") {
		t.Errorf("mapping on a signed RULE: err %v, want a refusal", err)
	}
}

func TestEditedSignedRuleRefusedBeforePreview(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	head, _ := h.store.Head()
	path := "tenants/prod/RULE/Email Correlation.json"
	data, ok, _ := h.store.ReadFile(head, path)
	if !ok {
		t.Fatalf("%s missing", path)
	}
	edited := strings.Replace(string(data), "Correlation", "Correlation!", 1)
	if _, err := h.store.Commit(context.Background(), gitstore.CommitSpec{Message: "edit a signed rule", Changes: []gitstore.Change{{Path: path, Content: []byte(edited)}}}); err != nil {
		t.Fatal(err)
	}
	// Drift in prod makes the desired state differ from the live rule.
	res, err := h.runner().Apply(context.Background(), "")
	if !IsBlocked(err) || !strings.Contains(err.Error(), "signed object RULE Email Correlation") {
		t.Fatalf("want a block naming the edited signed rule, got %v", err)
	}
	if res.Plan == nil || res.Plan.ImportCount() == 0 {
		t.Fatal("the edited rule was not in the plan: the test proves nothing")
	}
	if h.realImports() != 1 {
		t.Error("an edited signed rule was imported")
	}
	if res.Plan.Preview != nil {
		t.Errorf("a preview (job %s) ran with an edited signed rule", res.Plan.Preview.JobID)
	}
}

func TestGateReasons(t *testing.T) {
	store, err := gitstore.Open(context.Background(), gitstore.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(g config.Gate) *Runner {
		p := &config.Pipeline{Name: "p", Gate: g}
		return &Runner{Pipeline: p, Store: store, Now: func() time.Time { return time.Date(2026, 11, 20, 19, 0, 0, 0, time.UTC) }} // a Friday
	}
	plan := func(mut func(*Plan)) *Plan {
		pl := &Plan{Target: "prod", Payload: []byte("{}"), payloadKeys: []spconfig.Key{{Type: "TRANSFORM", Name: "a"}},
			Preview: &PreviewReport{Status: spconfig.StatusComplete}}
		if mut != nil {
			mut(pl)
		}
		return pl
	}
	window := config.DenyWindow{Cron: "0 18 * * 5", Duration: config.Duration{Duration: 62 * time.Hour}}
	tests := []struct {
		name string
		gate config.Gate
		pl   *Plan
		want string // substring of the only reason; "" = clean
	}{
		{"clean", config.Gate{MaxChanges: 50}, plan(nil), ""},
		{"preview error", config.Gate{MaxChanges: 50}, plan(func(p *Plan) {
			p.Preview.Errors = []TypedMessage{{Type: "SOURCE", Text: "Unable to resolve"}}
		}), "preview error (SOURCE): Unable to resolve"},
		{"warning not allowed", config.Gate{MaxChanges: 50}, plan(func(p *Plan) {
			p.Preview.Warnings = []TypedMessage{{Type: "SOURCE", Text: "Something odd"}}
		}), "not allowed by gate.allowWarnings"},
		{"warning allowed", config.Gate{MaxChanges: 50, AllowWarnings: []string{"^Something"}}, plan(func(p *Plan) {
			p.Preview.Warnings = []TypedMessage{{Type: "SOURCE", Text: "Something odd"}}
		}), ""},
		{"budget", config.Gate{MaxChanges: 1}, plan(func(p *Plan) {
			p.payloadKeys = append(p.payloadKeys, spconfig.Key{Type: "TRANSFORM", Name: "b"})
		}), "change budget: 2 objects"},
		{"unlimited budget", config.Gate{MaxChanges: -1}, plan(func(p *Plan) {
			p.payloadKeys = append(p.payloadKeys, spconfig.Key{Type: "TRANSFORM", Name: "b"})
		}), ""},
		{"no preview", config.Gate{MaxChanges: 50}, plan(func(p *Plan) { p.Preview = nil }), "no preview was run"},
		{"preview failed", config.Gate{MaxChanges: 50}, plan(func(p *Plan) { p.Preview.Status = spconfig.StatusFailed }), "preview job ended FAILED"},
		{"drift blocks", config.Gate{MaxChanges: 50, OnDrift: "block"}, plan(func(p *Plan) {
			p.Items = []PlanItem{{Key: spconfig.Key{Type: "TRANSFORM", Name: "a"}, Class: ClassDrift}}
		}), "drift: TRANSFORM a"},
		{"drift overwritten", config.Gate{MaxChanges: 50, OnDrift: "overwrite"}, plan(func(p *Plan) {
			p.Items = []PlanItem{{Key: spconfig.Key{Type: "TRANSFORM", Name: "a"}, Class: ClassDrift}}
		}), ""},
		{"drift of a type SP-Config cannot import", config.Gate{MaxChanges: 50, OnDrift: "overwrite"}, plan(func(p *Plan) {
			p.Items = []PlanItem{{Key: spconfig.Key{Type: "WORKFLOW", Name: "a"}, Class: ClassDrift}}
		}), "drift: WORKFLOW a changed in prod outside git; SP-Config cannot import WORKFLOW: take the live version into git with promoter adopt"},
		{"conflict", config.Gate{MaxChanges: 50}, plan(func(p *Plan) {
			p.Items = []PlanItem{{Key: spconfig.Key{Type: "TRANSFORM", Name: "a"}, Class: ClassConflict}}
		}), "conflict: TRANSFORM a"},
		{"deny window", config.Gate{MaxChanges: 50, DenyWindows: []config.DenyWindow{window}}, plan(nil), "deny window"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reasons := cfg(tc.gate).gate(tc.pl, nil)
			switch {
			case tc.want == "" && len(reasons) > 0:
				t.Errorf("want clean, got %q", reasons)
			case tc.want != "" && (len(reasons) != 1 || !strings.Contains(reasons[0], tc.want)):
				t.Errorf("want one reason containing %q, got %q", tc.want, reasons)
			}
		})
	}
}

func TestInflightMarkerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := readInflight(dir, "prod"); ok || err != nil {
		t.Fatalf("empty repo has a marker: %v %v", ok, err)
	}
	rec := &Record{Target: "prod", ImportJob: "job-1", PayloadSHA256: "abc"}
	if err := writeInflight(dir, rec); err != nil {
		t.Fatal(err)
	}
	got, ok, err := readInflight(dir, "prod")
	if err != nil || !ok || got.ImportJob != "job-1" {
		t.Fatalf("read back: %+v %v %v", got, ok, err)
	}
	if err := clearInflight(dir, "prod"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := readInflight(dir, "prod"); ok {
		t.Error("marker survived clear")
	}
	if err := os.WriteFile(inflightPath(dir, "prod"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readInflight(dir, "prod"); err == nil || !strings.Contains(err.Error(), "delete the file") {
		t.Errorf("corrupt marker: %v", err)
	}
	var pe *os.PathError
	_ = errors.As(err, &pe)
}

func TestPendingImportMarkerStopsTheNextRun(t *testing.T) {
	h := newHarness(t, "")
	h.prod.AddIdentity("Imogene Mendez")
	// A previous run requested the import and died before the tenant answered.
	if err := writeInflight(h.store.Path(), &Record{Target: "prod", PayloadSHA256: "abc", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, err := h.runner().Run(context.Background(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "check the tenant's import jobs") {
		t.Fatalf("want a stop asking to check the tenant, got %v", err)
	}
	if h.realImports() != 0 {
		t.Fatal("a run imported while an earlier import request's outcome was unknown")
	}
	if err := clearInflight(h.store.Path(), "prod"); err != nil {
		t.Fatal(err)
	}
	h.promoteClean()
}

func TestNoImportWhenTheMarkerCannotBeWritten(t *testing.T) {
	h := newHarness(t, "")
	h.prod.AddIdentity("Imogene Mendez")
	// A folder where the marker's temporary file should be: the marker cannot
	// be written (root ignores permissions, so a mode would not do).
	if err := os.MkdirAll(inflightPath(h.store.Path(), "prod")+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := h.runner().Run(context.Background(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "not started") {
		t.Fatalf("want an import that is not started, got %v", err)
	}
	if h.realImports() != 0 {
		t.Fatal("imported without an in-flight marker on disk")
	}
}

func TestDryRunPlansButWritesAndImportsNothing(t *testing.T) {
	h := newHarness(t, "")
	h.promoteClean()
	head, _ := h.store.Head()
	path := "tenants/prod/TRANSFORM/Get Worker Type.json"
	data, _, _ := h.store.ReadFile(head, path)
	edited := strings.Replace(string(data), "Full-Time", "Permanent", 1)
	if _, err := h.store.Commit(context.Background(), gitstore.CommitSpec{Message: "a reviewed change", Changes: []gitstore.Change{{Path: path, Content: []byte(edited)}}}); err != nil {
		t.Fatal(err)
	}
	editObject(t, h.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	head, _ = h.store.Head()
	offered, _ := h.store.Ref(offeredRef("dev-to-prod"))
	observed, _ := h.store.Ref(observedRef("prod"))
	res, err := h.runner().Run(context.Background(), RunOptions{DryRun: true})
	if err != nil || res.Outcome != OutcomeClean {
		t.Fatalf("dry run: %v %v", res.Outcome, err)
	}
	if got := itemClass(res.Plan, "TRANSFORM Get Worker Type"); got != ClassApply {
		t.Errorf("the committed change is %q in the dry-run plan, want apply", got)
	}
	// The unexported dev change is proposed and planned, in memory only.
	if got := itemClass(res.Plan, "TRANSFORM Lowercase Email"); got != ClassApply {
		t.Errorf("the unexported dev change is %q in the dry-run plan, want apply", got)
	}
	if o2, _ := h.store.Ref(observedRef("prod")); o2 != observed {
		t.Error("a dry run recorded an observation")
	}
	if h2, _ := h.store.Head(); h2 != head {
		t.Error("a dry run committed")
	}
	if o2, _ := h.store.Ref(offeredRef("dev-to-prod")); o2 != offered {
		t.Error("a dry run moved offered")
	}
	if h.realImports() != 1 {
		t.Error("a dry run imported")
	}
	for _, s := range res.Steps {
		if s.Name == "import" {
			t.Errorf("a dry run ran step %s", s.Name)
		}
	}
}

// TestGuardMinObjectsRefusesSmallExports: issue 14 item 13. guard.minObjects
// refuses an export with fewer objects in total, and never turns the drop
// check off for types with fewer objects than it.
func TestGuardMinObjectsRefusesSmallExports(t *testing.T) {
	for _, tc := range []struct {
		name, guard string
		drop        int    // TRANSFORMs deleted before the second export
		want        string // substring of the block; "" = the second export passes
	}{
		{"total below the minimum", "{minObjects: 100}", 0, "the export holds 58 objects in total, fewer than guard.minObjects (100)"},
		{"drop of a type smaller than the minimum", "{minObjects: 10}", 5, "TRANSFORM: 9 objects in the last snapshot, 4 in this export"},
		{"total at the minimum", "{minObjects: 53}", 5, "TRANSFORM: 9 objects"},
		{"total at the minimum, small drop allowed", "{minObjects: 58, maxDropPercent: 60}", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "    guard: "+tc.guard+"\n")
			_, err := h.runner().Export(context.Background())
			if tc.drop == 0 {
				switch {
				case tc.want == "" && err != nil:
					t.Fatalf("export: %v", err)
				case tc.want != "" && (!IsBlocked(err) || !strings.Contains(err.Error(), tc.want)):
					t.Fatalf("want a guard block with %q, got %v", tc.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range h.dev.Objects("TRANSFORM")[:tc.drop] {
				if err := h.dev.DeleteObject("TRANSFORM", e.Key().Name); err != nil {
					t.Fatal(err)
				}
			}
			_, err = h.runner().Export(context.Background())
			if !IsBlocked(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a guard block with %q, got %v", tc.want, err)
			}
		})
	}
}
