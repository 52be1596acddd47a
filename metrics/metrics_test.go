package metrics

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"promoter/pipeline"
	"promoter/spconfig"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(m.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMetricsFromRuns(t *testing.T) {
	m := New("p")
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	m.Step("p", "export", 2*time.Second, "ok")
	m.Request("prod", spconfig.RequestEvent{Operation: "importSpConfig", StatusCode: 429, Retry: true, Err: errors.New("rate")})
	m.Request("prod", spconfig.RequestEvent{Operation: "importSpConfig", StatusCode: 202})
	m.Skipped("p")
	m.SetHolds("p", 1)
	blockedPlan := &pipeline.Plan{Counts: map[pipeline.Class]int{pipeline.ClassDrift: 1},
		Items:   []pipeline.PlanItem{{Key: spconfig.Key{Type: "SOURCE"}, Class: pipeline.ClassApply}, {Key: spconfig.Key{Type: "SOURCE"}, Class: pipeline.ClassDrift}, {Key: spconfig.Key{Type: "RULE"}, Class: pipeline.ClassNoop}},
		Preview: &pipeline.PreviewReport{Errors: []pipeline.TypedMessage{{Type: "SOURCE"}}, Warnings: []pipeline.TypedMessage{{Type: "RULE"}, {Type: ""}}}}
	m.Run(pipeline.RunRecord{Pipeline: "p", Outcome: pipeline.OutcomeBlocked, Started: t0, Finished: t0.Add(time.Minute), Plan: blockedPlan}, time.Time{})
	importedPlan := &pipeline.Plan{Revision: "abc", Counts: map[pipeline.Class]int{},
		Items: []pipeline.PlanItem{{Key: spconfig.Key{Type: "TRANSFORM"}, Class: pipeline.ClassApply}}}
	rec := pipeline.RunRecord{Pipeline: "p", Outcome: pipeline.OutcomeImported, Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour + time.Minute),
		Plan: importedPlan, Result: &pipeline.Result{Outcome: pipeline.OutcomeImported, Plan: importedPlan,
			Record: &pipeline.Record{Objects: []string{"TRANSFORM Get Worker Type", "TRANSFORM a b"}, Finished: t0.Add(time.Hour + 50*time.Second)}}}
	if got := LeadTimeCommit(rec); got != "abc" {
		t.Errorf("LeadTimeCommit without a snapshot = %q, want the plan revision", got)
	}
	m.Run(rec, t0.Add(50*time.Second))
	out := scrape(t, m)
	for _, want := range []string{
		`promoter_step_duration_seconds_count{outcome="ok",pipeline="p",step="export"} 1`,
		`promoter_api_requests_total{code="429",operation="importSpConfig",tenant="prod"} 1`,
		`promoter_api_retries_total{operation="importSpConfig",tenant="prod"} 1`,
		`promoter_runs_skipped_total{pipeline="p"} 1`,
		`promoter_holds_active{pipeline="p"} 1`,
		`promoter_runs_total{outcome="blocked",pipeline="p"} 1`,
		`promoter_runs_total{outcome="imported",pipeline="p"} 1`,
		`promoter_preview_errors_total{pipeline="p",type="SOURCE"} 1`,
		`promoter_preview_warnings_total{pipeline="p",type="unknown"} 1`,
		`promoter_objects_imported_total{pipeline="p",type="TRANSFORM"} 2`,
		`promoter_plan_objects{class="apply",pipeline="p",type="TRANSFORM"} 1`,
		`promoter_drift_objects{pipeline="p"} 0`,
		`promoter_last_success_timestamp_seconds{pipeline="p"} 1.77234845e+09`,
		`promoter_lead_time_seconds_sum{pipeline="p"} 3600`,
		`promoter_run_in_progress{pipeline="p"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The last plan replaces the previous one: no stale SOURCE series, and
	// the blocked gauge is cleared by the run that was not blocked.
	for _, stale := range []string{`promoter_plan_objects{class="apply",pipeline="p",type="SOURCE"}`, `promoter_objects_blocked{pipeline="p",type="SOURCE"}`} {
		if strings.Contains(out, stale) {
			t.Errorf("metrics still have %s after a newer plan", stale)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# HELP promoter_") && !strings.HasPrefix(line, "# HELP go_") && !strings.HasPrefix(line, "# HELP process_") {
			t.Errorf("metric without the promoter_ prefix: %s", line)
		}
	}
}

func TestBlockedGaugeDuringABlockedRun(t *testing.T) {
	m := New()
	pl := &pipeline.Plan{Counts: map[pipeline.Class]int{},
		Items: []pipeline.PlanItem{{Key: spconfig.Key{Type: "SOURCE"}, Class: pipeline.ClassApply}, {Key: spconfig.Key{Type: "SOURCE"}, Class: pipeline.ClassConflict}, {Key: spconfig.Key{Type: "RULE"}, Class: pipeline.ClassNotImportable}}}
	m.Run(pipeline.RunRecord{Pipeline: "p", Outcome: pipeline.OutcomeBlocked, Plan: pl}, time.Time{})
	out := scrape(t, m)
	if !strings.Contains(out, `promoter_objects_blocked{pipeline="p",type="SOURCE"} 2`) || strings.Contains(out, `promoter_objects_blocked{pipeline="p",type="RULE"}`) {
		t.Errorf("blocked gauge wrong:\n%s", grep(out, "promoter_objects_blocked"))
	}
	if strings.Contains(out, "promoter_lead_time_seconds_count") && !strings.Contains(out, `promoter_lead_time_seconds_count{pipeline="p"} 0`) {
		t.Errorf("a blocked run observed a lead time")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestResumedImportIsASuccess: a run that resumed and recorded an import a
// previous run started is a success, whether the rest of the run had nothing
// to do (outcome imported) or stopped (blocked): the last success time and
// the imported objects come from the resumed record.
func TestResumedImportIsASuccess(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	for _, outcome := range []pipeline.Outcome{pipeline.OutcomeImported, pipeline.OutcomeBlocked} {
		t.Run(string(outcome), func(t *testing.T) {
			m := New("p")
			resumed := &pipeline.Record{Verdict: "imported", ImportJob: "j1", Revision: "abc",
				Objects: []string{"SOURCE AD"}, Finished: t0.Add(30 * time.Second)}
			m.Run(pipeline.RunRecord{Pipeline: "p", Outcome: outcome, Started: t0, Finished: t0.Add(time.Minute),
				Result: &pipeline.Result{Outcome: outcome, Resumed: resumed}}, time.Time{})
			out := scrape(t, m)
			for _, want := range []string{
				`promoter_last_success_timestamp_seconds{pipeline="p"} 1.77234483e+09`,
				`promoter_objects_imported_total{pipeline="p",type="SOURCE"} 1`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
	res := &pipeline.Result{Outcome: pipeline.OutcomeImported, Resumed: &pipeline.Record{Verdict: "imported"}}
	if got := res.Report(); got != "imported (resumed)" {
		t.Errorf("Report = %q, want imported (resumed)", got)
	}
	if got := LeadTimeCommit(pipeline.RunRecord{Outcome: pipeline.OutcomeImported, Result: &pipeline.Result{Resumed: &pipeline.Record{Revision: "abc"}}}); got != "abc" {
		t.Errorf("LeadTimeCommit of a resumed import = %q, want its revision", got)
	}
}

// TestDriftGaugeCountsEveryType: drift of a type SP-Config cannot import (a
// ROLE edited in prod's UI) is counted like any other (issue 12: drift on
// every type), and the next plan without drift clears it.
func TestDriftGaugeCountsEveryType(t *testing.T) {
	m := New("p")
	drifted := &pipeline.Plan{Counts: map[pipeline.Class]int{pipeline.ClassDrift: 2},
		Items: []pipeline.PlanItem{{Key: spconfig.Key{Type: "ROLE"}, Class: pipeline.ClassDrift}, {Key: spconfig.Key{Type: "SOURCE"}, Class: pipeline.ClassDrift}, {Key: spconfig.Key{Type: "ROLE"}, Class: pipeline.ClassNoop}}}
	m.Run(pipeline.RunRecord{Pipeline: "p", Outcome: pipeline.OutcomeBlocked, Plan: drifted}, time.Time{})
	out := scrape(t, m)
	for _, want := range []string{
		`promoter_drift_objects{pipeline="p"} 2`,
		`promoter_plan_objects{class="drift",pipeline="p",type="ROLE"} 1`,
		`promoter_plan_objects{class="drift",pipeline="p",type="SOURCE"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(out, "drift"))
		}
	}
	clean := &pipeline.Plan{Counts: map[pipeline.Class]int{}, Items: []pipeline.PlanItem{{Key: spconfig.Key{Type: "ROLE"}, Class: pipeline.ClassNoop}}}
	m.Run(pipeline.RunRecord{Pipeline: "p", Outcome: pipeline.OutcomeNothing, Plan: clean}, time.Time{})
	out = scrape(t, m)
	if !strings.Contains(out, `promoter_drift_objects{pipeline="p"} 0`) || strings.Contains(out, `class="drift"`) {
		t.Errorf("a plan without drift left drift series:\n%s", grep(out, "drift"))
	}
}
