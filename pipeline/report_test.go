package pipeline

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"promoter/diff"
	"promoter/spconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenPlan is a plan with every section filled: classes, a conflict, a
// preview with a warning, a block, a leak, a mapping miss, a mapped value
// and an unmatched rule.
func goldenPlan(t *testing.T) *Plan {
	t.Helper()
	entry := func(typ, name, object string) spconfig.Entry {
		e, err := spconfig.NewEntry([]byte(`{"version": 1, "self": {"type": "` + typ + `", "id": "id-` + name + `", "name": "` + name + `"}, "object": ` + object + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	live := []spconfig.Entry{
		entry("TRANSFORM", "Get Worker Type", `{"name": "Get Worker Type", "type": "static", "attributes": {"value": "$workerType"}}`),
		entry("WORKFLOW", "Send Email", `{"name": "Send Email", "enabled": false}`),
	}
	desired := []spconfig.Entry{
		entry("TRANSFORM", "Get Worker Type", `{"name": "Get Worker Type", "type": "static", "attributes": {"value": "$workerType-mapped"}}`),
		entry("WORKFLOW", "Send Email", `{"name": "Send Email", "enabled": true}`),
	}
	d, err := diff.Compare(live, desired, diff.Options{CrossTenant: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.Changes {
		switch d.Changes[i].Key.Type {
		case "TRANSFORM":
			d.Changes[i].Note = classNotes[ClassApply] + `; mapped: $.attributes.value = "$workerType-mapped" (from "Contingent")`
		case "WORKFLOW":
			d.Changes[i].Note = classNotes[ClassNotImportable]
		}
	}
	return &Plan{
		Pipeline: "dev-to-prod", Source: "dev", Target: "prod",
		Revision: "0123456789abcdef0123456789abcdef01234567", LiveJob: "job-live",
		Items: []PlanItem{
			{Key: spconfig.Key{Type: "TRANSFORM", Name: "Get Worker Type"}, Class: ClassApply, Path: "tenants/prod/TRANSFORM/Get Worker Type.json", Reason: "differs from the target: will be updated"},
			{Key: spconfig.Key{Type: "WORKFLOW", Name: "Send Email"}, Class: ClassNotImportable, Path: "tenants/prod/WORKFLOW/Send Email.json", Reason: notImportableReason("WORKFLOW", true)},
		},
		Proposed: []string{"tenants/prod/TRANSFORM/Get Worker Type.json"},
		Counts:   map[Class]int{ClassApply: 1, ClassNotImportable: 1},
		Diff:     d,
		Preview:  &PreviewReport{JobID: "job-preview", Status: spconfig.StatusComplete, Warnings: []TypedMessage{{Type: "TRANSFORM", Key: "W1", Text: "Object to be imported has a reference"}}},
		Verdict:  string(OutcomeBlocked),
		Blocked:  []string{`environment leak: TRANSFORM Get Worker Type $.attributes.value holds "acme-sb", which contains "acme-sb" (the org name of tenant dev); add or correct a mapping for it`},
		Leaks:    []Leak{{Object: "TRANSFORM Get Worker Type", Path: "$.attributes.value", Value: "acme-sb", Found: "acme-sb", What: "the org name of tenant dev"}},
		MappingMisses: []MappingMiss{{Object: "SOURCE Active Directory", Mapping: "pipelines[0].mappings[1] (line 22)", Path: "$.connectorAttributes.host",
			Value: `"ad2.dev.acme.local"`, From: "ad.dev.acme.local", To: "ad.acme.local"}},
		Mapped:        []MappedValue{{Object: "TRANSFORM Get Worker Type", Path: "$.attributes.value", From: "Contingent", To: "$workerType-mapped", Mapping: "pipelines[0].mappings[0] (line 21)"}},
		Unmatched:     []UnmatchedRule{{Rule: "pipelines[0].exclude[1] (line 18)", Type: "TRANSFORM", Name: "Get Worker Typ", Message: `matches no object of the dev export or of prod (did you mean "Get Worker Type"?); check its type and name, or remove it`}},
		PayloadSHA256: "sha256-of-the-payload",
	}
}

// TestPlanGolden: issue 14 item 8. The text, markdown and JSON plans match
// the golden files under testdata/plan (go test -run TestPlanGolden -update
// rewrites them).
func TestPlanGolden(t *testing.T) {
	for _, tc := range []struct{ format, file string }{
		{FormatText, "plan.txt"}, {FormatMarkdown, "plan.md"}, {FormatJSON, "plan.json"},
	} {
		var b bytes.Buffer
		if err := RenderPlan(&b, goldenPlan(t), tc.format, false); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "plan", tc.file)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestPlanGolden -update)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s plan differs from %s (run go test -run TestPlanGolden -update and review the diff):\n%s", tc.format, path, b.String())
		}
	}
}

// TestPlanJSONIsStable: issue 14 item 8. An empty plan still has every
// class in counts and every list as a list, never null or absent.
func TestPlanJSONIsStable(t *testing.T) {
	var b bytes.Buffer
	if err := RenderPlan(&b, &Plan{Pipeline: "p", Counts: map[Class]int{}, Preview: &PreviewReport{}}, FormatJSON, false); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plan map[string]json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var counts map[string]int
	if err := json.Unmarshal(doc.Plan["counts"], &counts); err != nil {
		t.Fatal(err)
	}
	for _, c := range classOrder {
		if _, ok := counts[string(c)]; !ok {
			t.Errorf("counts lacks class %s: %s", c, doc.Plan["counts"])
		}
	}
	for _, key := range []string{"items", "conflicts", "baseline", "proposed", "blockedReasons", "leaks", "mappingMisses", "mappedValues", "unmatchedRules"} {
		if got := string(doc.Plan[key]); got != "[]" {
			t.Errorf("plan.%s = %q, want []", key, got)
		}
	}
	var pv map[string]json.RawMessage
	if err := json.Unmarshal(doc.Plan["preview"], &pv); err != nil {
		t.Fatal(err)
	}
	if string(pv["errors"]) != "[]" || string(pv["warnings"]) != "[]" {
		t.Errorf("preview errors/warnings = %s/%s, want []", pv["errors"], pv["warnings"])
	}
}

// TestREADMEPlanFieldsMatchTheJSON: the README's table of plan fields lists
// exactly the fields of the golden JSON plan.
func TestREADMEPlanFieldsMatchTheJSON(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Plan JSON\n")
	if !ok {
		t.Fatal("README has no section ### Plan JSON")
	}
	section, _, _ = strings.Cut(section, "\n#")
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z0-9]+)` \\|").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	data, err := os.ReadFile(filepath.Join("testdata", "plan", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Plan map[string]json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var actual []string
	for k := range doc.Plan {
		actual = append(actual, k)
	}
	slices.Sort(actual)
	slices.Sort(documented)
	if !slices.Equal(actual, documented) {
		t.Errorf("README's plan fields %v\ndiffer from the JSON plan's %v", documented, actual)
	}
}
