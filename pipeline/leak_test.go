package pipeline

import (
	"context"
	"net/url"
	"promoter/config"
	"strings"
	"testing"
)

// reasonWith returns the first blocked reason containing every part, or "".
func reasonWith(reasons []string, parts ...string) string {
	for _, r := range reasons {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r, p)
		}
		if ok {
			return r
		}
	}
	return ""
}

// TestMappingThatNoLongerMatchesBlocks: issue 14 item 1. A mapping whose path
// holds neither from nor to (the source value changed, or the path is gone)
// blocks the gate naming the mapping with its line, unless it is optional.
func TestMappingThatNoLongerMatchesBlocks(t *testing.T) {
	h := newHarness(t, `    mappings:
      - { type: TRANSFORM, name: Get Worker Type, path: "$.attributes.value", from: "#if($workerType=='Employee')Full-Time#{else}Temp#end", to: "$workerType" }
      - { type: TRANSFORM, name: Get Worker Type, path: "$.attributes.nothing", from: zz-from-1, to: zz-to-1 }
      - { type: TRANSFORM, name: Get Worker Type, path: "$.attributes.nothing", from: zz-from-2, to: zz-to-2, optional: true }
`)
	h.prod.AddIdentity("Imogene Mendez")
	res, err := h.runner().Run(context.Background(), RunOptions{})
	if !IsBlocked(err) || h.realImports() != 0 {
		t.Fatalf("want blocked without import, got %v (outcome %v, %d imports)", err, res.Outcome, h.realImports())
	}
	reasons := res.Plan.Blocked
	if r := reasonWith(reasons, "mapping pipelines[0].mappings[0] (line 21)", "TRANSFORM Get Worker Type", `holds "#if($workerType=='Employee')Full-Time#{else}Contingent#end"`, `neither from "#if($workerType=='Employee')Full-Time#{else}Temp#end" nor to "$workerType"`, "optional: true"); r == "" {
		t.Errorf("no reason names the mapping that no longer matches:\n%s", strings.Join(reasons, "\n"))
	}
	if r := reasonWith(reasons, "mappings[1] (line 22)", "has no value at $.attributes.nothing"); r == "" {
		t.Errorf("no reason names the mapping whose path is absent:\n%s", strings.Join(reasons, "\n"))
	}
	if r := reasonWith(reasons, "mappings[2]"); r != "" {
		t.Errorf("an optional mapping blocked: %s", r)
	}
	if len(res.Plan.MappingMisses) != 2 {
		t.Errorf("mapping misses = %+v, want 2", res.Plan.MappingMisses)
	}
}

// TestLeakGuardBlocksSourceFingerprints: issue 14 item 2. The source
// tenant's API host and org name, a mapping's from left in another field,
// and gate.leakPatterns found in the payload block the gate with the
// object, the path and the value, with the fix; signed objects are scanned
// too; gate.allowLeaks accepts a named object and path. The org name comes
// from the export in a dry run and from the snapshot commit for --rev.
func TestLeakGuardBlocksSourceFingerprints(t *testing.T) {
	h := newHarness(t, `      leakPatterns: ["@example\\.com"]
    mappings:
      - { type: TRANSFORM, name: Lowercase Email, path: "$.attributes.input.attributes.attributeName", from: mail, to: userPrincipalName }
`)
	h.prod.AddIdentity("Imogene Mendez")
	u, _ := url.Parse(h.dev.URL)
	editObject(t, h.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contingent (see acme-sb)")
	editObject(t, h.dev, "TRANSFORM", "Build Display Name", `"FirstName"`, `"https://`+u.Host+`/FirstName"`)
	editObject(t, h.dev, "SOURCE", "Active Directory", "Corporate Active Directory", "mail: Corporate Active Directory")

	check := func(label string, reasons []string) {
		t.Helper()
		for _, want := range [][]string{
			{"environment leak: TRANSFORM Get Worker Type $.attributes.value", `contains "acme-sb" (the org name of tenant dev)`, "add or correct a mapping", `gate.allowLeaks: [{type: TRANSFORM, name: "Get Worker Type", path: "$.attributes.value"}]`},
			{"environment leak: TRANSFORM Build Display Name $.attributes.values[0].attributes.attributeName", `"https://` + u.Host + `/FirstName"`, "the API host of tenant dev"},
			{"environment leak: SOURCE Active Directory $.description", `contains "mail" (the from of pipelines[0].mappings[0] (line 22))`},
			{"environment leak: RULE Email Correlation $.sourceCode.script", `contains "@example.com" (the pattern pipelines[0].gate.leakPatterns[0] (line 20))`, "is signed and cannot be mapped: fix the value in tenant dev"},
		} {
			if reasonWith(reasons, want...) == "" {
				t.Errorf("%s: no reason with %q in:\n%s", label, want, strings.Join(reasons, "\n"))
			}
		}
		if r := reasonWith(reasons, "RULE Email Correlation $.sourceCode.script"); !strings.Contains(r, `holds ..."`) || strings.Contains(r, "return returnMap") {
			t.Errorf("%s: the long script is not shown as an excerpt around the hit: %s", label, r)
		}
		if r := reasonWith(reasons, "TRANSFORM Lowercase Email"); r != "" {
			t.Errorf("%s: the mapped value is reported as a leak: %s", label, r)
		}
	}
	res, err := h.runner().Plan(context.Background(), "")
	if !IsBlocked(err) {
		t.Fatalf("dry run: want blocked, got %v", err)
	}
	check("dry run", res.Plan.Blocked)

	res, err = h.runner().Run(context.Background(), RunOptions{})
	if !IsBlocked(err) || h.realImports() != 0 {
		t.Fatalf("run: want blocked without import, got %v (%d imports)", err, h.realImports())
	}
	check("run", res.Plan.Blocked)
	// A new process knows the org name from the snapshot commit only.
	res, err = h.runner().Plan(context.Background(), "HEAD")
	if !IsBlocked(err) {
		t.Fatalf("plan --rev HEAD: want blocked, got %v", err)
	}
	check("plan --rev HEAD", res.Plan.Blocked)

	g := &h.cfg.Pipelines[0].Gate
	for _, l := range res.Plan.Leaks {
		g.AllowLeaks = append(g.AllowLeaks, config.LeakAllowance{Type: l.key.Type, Name: l.key.Name, Path: l.Path})
	}
	if err := h.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err = h.runner().Plan(context.Background(), "HEAD")
	if err != nil || len(res.Plan.Leaks) != 0 {
		t.Fatalf("allowed leaks still block: %v %+v", err, res.Plan.Leaks)
	}
}

func TestLiteralIndexAtWordBoundaries(t *testing.T) {
	for _, tc := range []struct {
		s, lit string
		want   int
	}{
		{"acme-sb.api.identitynow.com", "acme", -1},
		{"https://acme.api.identitynow.com", "acme", 8},
		{"ldap://ad.dev.acme.local:389", "ad.dev.acme.local", 7},
		{"ad2.dev.acme.local", "ad.dev.acme.local", -1},
		{"#{else}Contingent#end", "Contingent", 7},
		{"Contingents", "Contingent", -1},
		{"ACME-SB tenant", "acme-sb", 0},
	} {
		if got := literalIndex(tc.s, tc.lit, true); got != tc.want {
			t.Errorf("literalIndex(%q, %q) = %d, want %d", tc.s, tc.lit, got, tc.want)
		}
	}
}

// TestNotImportableReasonsTellTheTruth: issue 14 item 9. The reason of an
// object SP-Config cannot import never says it will be created or updated.
func TestNotImportableReasonsTellTheTruth(t *testing.T) {
	h := newHarness(t, "")
	res, _ := h.runner().Plan(context.Background(), "")
	if res.Plan == nil {
		t.Fatal("no plan")
	}
	var missing, differs int
	for _, it := range res.Plan.Items {
		if it.Class != ClassNotImportable {
			continue
		}
		if strings.Contains(it.Reason, "will be") || strings.Contains(it.Reason, "outside") || !strings.Contains(it.Reason, "SP-Config cannot import "+it.Type()+", so promoter will not") {
			t.Errorf("%s: reason %q", it.Object(), it.Reason)
		}
		switch {
		case strings.HasPrefix(it.Reason, "missing in the target;"):
			missing++
		case strings.HasPrefix(it.Reason, "differs from the target;"):
			differs++
		}
	}
	if missing == 0 || differs == 0 {
		t.Errorf("want not-importable objects both missing (%d) and differing (%d): the test proves little", missing, differs)
	}
}
