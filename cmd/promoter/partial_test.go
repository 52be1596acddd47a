package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPartialImportIsRecordedAndTheNextRunImportsWhatIsMissing: a real
// import that halts half way (prod refuses one object; the objects before it
// are imported) is recorded as partial with what was and was not imported,
// the run exits 1 naming the failed objects and the backup export, applied
// does not move, and the next run imports exactly what is still missing
// (issue 15).
func TestPartialImportIsRecordedAndTheNextRunImportsWhatIsMissing(t *testing.T) {
	t.Parallel()
	w := newE2E(t, "")
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.prod.SetFaults("reject-object=TRANSFORM:Get Worker Type")
	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitRuntime {
		t.Fatalf("partial import: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"was partial", "TRANSFORM Get Worker Type", "backup export "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error does not say %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "dev-to-prod: partial") {
		t.Errorf("stdout does not report the partial outcome:\n%s", out)
	}
	if w.realImports() != 1 {
		t.Fatalf("real imports = %d, want 1", w.realImports())
	}
	if _, err := gitRevParse(w, "refs/promoter/applied/prod"); err == nil {
		t.Error("applied moved after a partial import")
	}
	promotion := w.git("log", "-1", "--format=%H", "--grep=^Promote")
	var recs []struct {
		Verdict, BackupJob    string
		Imported, NotImported []string
	}
	if err := json.Unmarshal([]byte(w.git("notes", "--ref=promoter", "show", promotion)), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("import record: %v %+v", err, recs)
	}
	rec := recs[0]
	if rec.Verdict != "partial" || rec.BackupJob == "" || !slices.Contains(rec.Imported, "SOURCE ServiceNow") ||
		!slices.Contains(rec.NotImported, "TRANSFORM Get Worker Type") || !slices.Contains(rec.NotImported, "IDENTITY_PROFILE Employees") {
		t.Errorf("record %+v", rec)
	}
	// The next plan offers exactly what is missing; what landed is neither
	// drift nor offered again.
	classes := w.planJSON(exitOK, "--rev", "HEAD")
	for obj, want := range map[string]string{"SOURCE ServiceNow": "no-op", "TRANSFORM Get Worker Type": "apply", "IDENTITY_PROFILE Employees": "apply"} {
		if classes[obj] != want {
			t.Errorf("after the partial import %s is %q, want %q", obj, classes[obj], want)
		}
	}
	w.prod.SetFaults("")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.prodMatchesDev()
	var second []struct{ Objects []string }
	if err := json.Unmarshal([]byte(w.git("notes", "--ref=promoter", "show", "refs/promoter/applied/prod")), &second); err != nil || len(second) == 0 {
		t.Fatalf("second record: %v", err)
	}
	got := second[len(second)-1].Objects
	if !slices.Equal(got, rec.NotImported) {
		t.Errorf("the second import sent %v, want exactly what was missing %v", got, rec.NotImported)
	}
}

// gitRevParse resolves rev in the repository with the git CLI; an error
// means git does not know it.
func gitRevParse(w *e2e, rev string) (string, error) {
	out, err := exec.Command("git", "-C", w.repo, "rev-parse", "--verify", "-q", rev).Output()
	return strings.TrimSpace(string(out)), err
}
