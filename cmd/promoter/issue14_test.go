package main

import (
	"os"
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
