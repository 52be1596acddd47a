package pipeline

import (
	"context"
	"strings"
	"testing"

	"promoter/spconfig"
)

// meddler is a target whose real imports are followed, before anything
// else reads the tenant, by a change of another hand (after, once).
type meddler struct {
	Tenant
	after func()
}

func (m *meddler) Import(ctx context.Context, data []byte, opts *spconfig.ImportOptions, preview bool, o spconfig.WaitOptions, started func(spconfig.Job) error) (spconfig.Job, *spconfig.ImportResults, error) {
	job, res, err := m.Tenant.Import(ctx, data, opts, preview, o, started)
	if !preview && m.after != nil {
		m.after()
		m.after = nil
	}
	return job, res, err
}

// Verify compares the re-export with the desired state the plan read: an
// imported object that the target does not hold as desired fails the run
// and is recorded as verify-failed, and applied does not move.
func TestVerifyCatchesATargetThatDiffersAfterTheImport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		meddle func(h *harness)
		want   string
	}{
		{"edited", func(h *harness) {
			editObject(t, h.prod, "TRANSFORM", "Get Worker Type", "Contractor", "Temp")
		}, "TRANSFORM Get Worker Type (tenants/prod/TRANSFORM/Get Worker Type.json) differs from the desired state after the import"},
		{"deleted", func(h *harness) {
			if err := h.prod.DeleteObject("TRANSFORM", "Get Worker Type"); err != nil {
				t.Fatal(err)
			}
		}, "TRANSFORM Get Worker Type is missing in the target after the import"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.promoteClean()
			applied, err := h.store.Ref(appliedRef("prod"))
			if err != nil {
				t.Fatal(err)
			}
			editObject(t, h.dev, "TRANSFORM", "Get Worker Type", "Full-Time", "Contractor")
			r := h.runner()
			r.Target = &meddler{Tenant: r.Target, after: func() { tc.meddle(h) }}
			res, err := r.Run(context.Background(), RunOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: err %v, want one naming %q", err, tc.want)
			}
			if res.Record == nil || res.Record.Verdict != "verify-failed" {
				t.Fatalf("record %+v, want verdict verify-failed", res.Record)
			}
			if n := h.realImports(); n != 2 {
				t.Errorf("real imports %d, want 2 (the first promotion and this one)", n)
			}
			if now, err := h.store.Ref(appliedRef("prod")); err != nil || now != applied {
				t.Errorf("applied moved to %s (err %v), want it left at %s", now, err, applied)
			}
		})
	}
}

// The desired state the plan read is kept for verify only: a result (a
// daemon holds its last ones) keeps none of it, whether the flow imported
// or only planned.
func TestResultKeepsNoDesiredState(t *testing.T) {
	h := newHarness(t, "")
	h.prod.AddIdentity("Imogene Mendez")
	res, err := h.runner().Run(context.Background(), RunOptions{})
	if err != nil || res.Outcome != OutcomeImported {
		t.Fatalf("run: outcome %v, err %v", res.Outcome, err)
	}
	if res.Plan.desired != nil {
		t.Error("the run's result holds the plan's desired state")
	}
	res, err = h.runner().Plan(context.Background(), "")
	if err != nil && !IsBlocked(err) {
		t.Fatal(err)
	}
	if res.Plan == nil || res.Plan.desired != nil {
		t.Errorf("plan: result plan %v, want one without the desired state", res.Plan)
	}
}
