// Package metrics owns promoter's Prometheus metrics: their names (all
// prefixed promoter_, documented in the README's "Metrics" section), their
// own registry, and how pipeline results, steps, API requests and holds turn
// into samples. It does not run pipelines, serve HTTP beyond the handler it
// returns, or read the repository (callers pass commit times in).
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"promoter/pipeline"
	"promoter/spconfig"
)

// Metrics is the set of promoter metrics on its own registry.
type Metrics struct {
	reg *prometheus.Registry

	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	skipped       *prometheus.CounterVec
	running       *prometheus.GaugeVec
	steps         *prometheus.HistogramVec
	planObjects   *prometheus.GaugeVec
	imported      *prometheus.CounterVec
	blocked       *prometheus.GaugeVec
	previewErrors *prometheus.CounterVec
	previewWarns  *prometheus.CounterVec
	drift         *prometheus.GaugeVec
	lastSuccess   *prometheus.GaugeVec
	leadTime      *prometheus.HistogramVec
	holds         *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	retries       *prometheus.CounterVec
	reqDuration   *prometheus.HistogramVec
}

// New registers every promoter metric (and the Go and process collectors) on
// a new registry. pipelines are pre-declared so that their series exist
// (at 0) before the first run.
func New(pipelines ...string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_runs_total",
		Help: "Pipeline runs by outcome (imported, nothing-to-do, blocked, proposed, awaiting-apply, failed, ...)."}, []string{"pipeline", "outcome"})
	m.runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "promoter_run_duration_seconds",
		Help: "Duration of whole pipeline runs.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}, []string{"pipeline"})
	m.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_runs_skipped_total",
		Help: "Scheduled runs skipped because the previous run of the pipeline was still going."}, []string{"pipeline"})
	m.running = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promoter_run_in_progress",
		Help: "1 while a run of the pipeline is in progress."}, []string{"pipeline"})
	m.steps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "promoter_step_duration_seconds",
		Help: "Duration of each named step (export, guard, snapshot, propose, plan, preview, gate, import, verify, record).", Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 12)}, []string{"pipeline", "step", "outcome"})
	m.planObjects = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promoter_plan_objects",
		Help: "Objects in the pipeline's last plan by type and class (apply = changed, drift, conflict, not-importable, not-deleted, ...)."}, []string{"pipeline", "type", "class"})
	m.imported = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_objects_imported_total",
		Help: "Objects imported into the target by real imports."}, []string{"pipeline", "type"})
	m.blocked = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promoter_objects_blocked",
		Help: "Objects held back by the last run's gate (0 after a run that was not blocked)."}, []string{"pipeline", "type"})
	m.previewErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_preview_errors_total",
		Help: "Errors reported by preview imports."}, []string{"pipeline", "type"})
	m.previewWarns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_preview_warnings_total",
		Help: "Warnings reported by preview imports."}, []string{"pipeline", "type"})
	m.drift = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promoter_drift_objects",
		Help: "Target objects changed outside git, as of the pipeline's last plan."}, []string{"pipeline"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promoter_last_success_timestamp_seconds",
		Help: "Unix time of the pipeline's last successful promotion (a real import that passed verify)."}, []string{"pipeline"})
	m.leadTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "promoter_lead_time_seconds",
		Help:    "Time from the commit that brought a change into the repository to its import into the target.",
		Buckets: []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400}}, []string{"pipeline"})
	m.holds = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "promoter_holds_active",
		Help: "Active holds (promoter hold) pausing automatic promotion of the pipeline."}, []string{"pipeline"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_api_requests_total",
		Help: "HTTP attempts to the ISC API by tenant, operation and status code (0: no response)."}, []string{"tenant", "operation", "code"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "promoter_api_retries_total",
		Help: "HTTP attempts to the ISC API that the client retried."}, []string{"tenant", "operation"})
	m.reqDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "promoter_api_request_duration_seconds",
		Help: "Duration of HTTP attempts to the ISC API.", Buckets: prometheus.DefBuckets}, []string{"tenant", "operation"})
	for _, c := range []prometheus.Collector{m.runs, m.runDuration, m.skipped, m.running, m.steps, m.planObjects, m.imported,
		m.blocked, m.previewErrors, m.previewWarns, m.drift, m.lastSuccess, m.leadTime, m.holds, m.requests, m.retries, m.reqDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	for _, p := range pipelines {
		m.running.WithLabelValues(p).Set(0)
		m.drift.WithLabelValues(p)
		m.holds.WithLabelValues(p).Set(0)
		m.skipped.WithLabelValues(p)
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Step records one named step; it fits pipeline.Hooks.Step.
func (m *Metrics) Step(pipelineName, step string, d time.Duration, outcome string) {
	m.steps.WithLabelValues(pipelineName, step, outcome).Observe(d.Seconds())
}

// Request records one HTTP attempt of an API client; it fits
// pipeline.Env.Observer.
func (m *Metrics) Request(tenant string, ev spconfig.RequestEvent) {
	op := ev.Operation
	if op == "" {
		op = "unknown"
	}
	m.requests.WithLabelValues(tenant, op, strconv.Itoa(ev.StatusCode)).Inc()
	if ev.Retry {
		m.retries.WithLabelValues(tenant, op).Inc()
	}
	m.reqDuration.WithLabelValues(tenant, op).Observe(ev.Duration.Seconds())
}

// Skipped counts a scheduled run skipped because the previous one was still
// going.
func (m *Metrics) Skipped(pipelineName string) { m.skipped.WithLabelValues(pipelineName).Inc() }

// Running sets whether a run of the pipeline is in progress.
func (m *Metrics) Running(pipelineName string, on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.running.WithLabelValues(pipelineName).Set(v)
}

// SetHolds sets the number of active holds of a pipeline.
func (m *Metrics) SetHolds(pipelineName string, n int) {
	m.holds.WithLabelValues(pipelineName).Set(float64(n))
}

// Run records a finished run: its outcome and duration, the plan's objects
// per type and class, preview messages, drift, imported and blocked objects,
// the last success time and the lead time. changeTime is when the change
// that was imported entered the repository (zero when unknown: no lead time
// is observed); see LeadTimeCommit.
func (m *Metrics) Run(rec pipeline.RunRecord, changeTime time.Time) {
	p := rec.Pipeline
	m.runs.WithLabelValues(p, string(rec.Outcome)).Inc()
	if d := rec.Duration(); d > 0 {
		m.runDuration.WithLabelValues(p).Observe(d.Seconds())
	}
	m.blocked.DeletePartialMatch(prometheus.Labels{"pipeline": p})
	if pl := rec.Plan; pl != nil {
		m.planObjects.DeletePartialMatch(prometheus.Labels{"pipeline": p})
		perType := map[[2]string]int{}
		blocked := map[string]int{}
		for _, it := range pl.Items {
			perType[[2]string{it.Type(), string(it.Class)}]++
			if rec.Outcome == pipeline.OutcomeBlocked && (it.Class == pipeline.ClassApply || it.Class == pipeline.ClassDrift || it.Class == pipeline.ClassConflict) {
				blocked[it.Type()]++
			}
		}
		for k, n := range perType {
			m.planObjects.WithLabelValues(p, k[0], k[1]).Set(float64(n))
		}
		for t, n := range blocked {
			m.blocked.WithLabelValues(p, t).Set(float64(n))
		}
		m.drift.WithLabelValues(p).Set(float64(pl.Counts[pipeline.ClassDrift]))
		if pv := pl.Preview; pv != nil {
			for _, e := range pv.Errors {
				m.previewErrors.WithLabelValues(p, orUnknown(e.Type)).Inc()
			}
			for _, w := range pv.Warnings {
				m.previewWarns.WithLabelValues(p, orUnknown(w.Type)).Inc()
			}
		}
	}
	// The verified imports of the run: one it resumed (a previous run
	// started it) and its own.
	var records []*pipeline.Record
	if res := rec.Result; res != nil {
		if res.Resumed != nil && res.Resumed.Verdict == "imported" {
			records = append(records, res.Resumed)
		}
		if rec.Outcome == pipeline.OutcomeImported && res.Record != nil && res.Record != res.Resumed {
			records = append(records, res.Record)
		}
	}
	if rec.Outcome != pipeline.OutcomeImported && len(records) == 0 {
		return
	}
	imported := rec.Finished
	for _, r := range records {
		for _, o := range r.Objects {
			typ, _, _ := strings.Cut(o, " ")
			m.imported.WithLabelValues(p, typ).Inc()
		}
		if f := r.Finished; !f.IsZero() {
			imported = f
		}
	}
	if imported.IsZero() {
		imported = time.Now()
	}
	m.lastSuccess.WithLabelValues(p).Set(float64(imported.UnixNano()) / 1e9)
	if !changeTime.IsZero() && !imported.Before(changeTime) {
		m.leadTime.WithLabelValues(p).Observe(imported.Sub(changeTime).Seconds())
	}
}

// LeadTimeCommit is the commit whose time starts the lead-time clock of an
// imported run: the source snapshot commit of this run when it exported a
// change, otherwise the revision the plan imported (the promotion commit, or
// the commit a person made). "" when the run imported nothing.
func LeadTimeCommit(rec pipeline.RunRecord) string {
	if rec.Outcome != pipeline.OutcomeImported || rec.Result == nil {
		return ""
	}
	if rec.Result.SnapshotCommit != "" {
		return rec.Result.SnapshotCommit
	}
	if rec.Result.Record == nil && rec.Result.Resumed != nil {
		return rec.Result.Resumed.Revision
	}
	if rec.Plan != nil {
		return rec.Plan.Revision
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// SetHoldCounts sets the number of active holds of each named pipeline from
// the holds read (zero for a pipeline without any).
func (m *Metrics) SetHoldCounts(pipelines []string, holds []pipeline.Hold) {
	per := map[string]int{}
	for _, h := range holds {
		per[h.Pipeline]++
	}
	for _, n := range pipelines {
		m.SetHolds(n, per[n])
	}
}
