package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"promoter/spconfig"
)

// lostAnswer is a target whose real import is started (and runs to its end in
// the fake) but whose outcome the caller never learns: the wait answers err.
type lostAnswer struct {
	Tenant
	err error
}

func (l *lostAnswer) Import(ctx context.Context, data []byte, opts *spconfig.ImportOptions, preview bool, o spconfig.WaitOptions, started func(spconfig.Job) error) (spconfig.Job, *spconfig.ImportResults, error) {
	job, res, err := l.Tenant.Import(ctx, data, opts, preview, o, started)
	if preview || err != nil {
		return job, res, err
	}
	return job, nil, l.err
}

// TestStartedImportWithUnknownEndIsResumedNotRepeated proves that a real
// import whose end this run did not see (timeout, interruption, lost
// download) keeps its in-flight marker, does not advance applied, and is
// resumed and recorded by the next run without a second import. (A FAILED
// import, recorded at once, is covered end to end in cmd/promoter.)
func TestStartedImportWithUnknownEndIsResumedNotRepeated(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		resume bool
	}{
		{"wait timed out", &spconfig.TimeoutError{Type: spconfig.JobImport, JobID: "x", Last: spconfig.Job{Status: spconfig.StatusInProgress}}, true},
		{"interrupted", fmt.Errorf("wait for import job x: %w", context.Canceled), true},
		{"results download lost", errors.New("spconfig getSpConfigImport: unexpected EOF"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.prod.AddIdentity("Imogene Mendez")
			r := h.runner()
			r.Target = &lostAnswer{Tenant: r.Target, err: tc.err}
			_, err := r.Run(context.Background(), RunOptions{})
			if err == nil {
				t.Fatal("run with a lost import answer succeeded")
			}
			_, marked, rerr := readInflight(h.store.Path(), "prod")
			if rerr != nil || marked != tc.resume {
				t.Fatalf("in-flight marker present=%v (err %v), want %v; run error: %v", marked, rerr, tc.resume, err)
			}
			if tc.resume && !strings.Contains(err.Error(), "the next run resumes it") {
				t.Errorf("error does not say the import will be resumed: %v", err)
			}
			if applied, _ := h.store.Ref(appliedRef("prod")); !applied.IsZero() {
				t.Errorf("applied advanced to %s although the import's end is unknown", applied)
			}
			res, err := h.runner().Run(context.Background(), RunOptions{})
			if err != nil {
				t.Fatalf("next run: %v", err)
			}
			resumed := slices.ContainsFunc(res.Steps, func(s StepResult) bool { return s.Name == "resume" })
			if resumed != tc.resume {
				t.Errorf("next run resumed=%v, want %v (steps %+v)", resumed, tc.resume, res.Steps)
			}
			want := 1
			if !tc.resume {
				want = 2 // a definite failure may be retried by a new promotion
			}
			if n := h.realImports(); n != want {
				t.Errorf("real imports = %d, want %d", n, want)
			}
			if applied, _ := h.store.Ref(appliedRef("prod")); applied.IsZero() {
				t.Error("applied not advanced after the import was recorded")
			}
			if _, ok, _ := readInflight(h.store.Path(), "prod"); ok {
				t.Error("in-flight marker left after the import was recorded")
			}
		})
	}
}
