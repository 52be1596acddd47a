package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"promoter/gitstore"
	"promoter/spconfig"
)

// Exporter starts an export job on a tenant, waits for it and streams its objects.
type Exporter interface {
	Export(ctx context.Context, p spconfig.ExportPayload, o spconfig.WaitOptions, fn func(i int, e spconfig.Entry) error) (spconfig.Job, spconfig.ExportHeader, error)
}

// Importer starts an import job on a tenant and waits for its results. started
// is called with the accepted job before polling begins.
type Importer interface {
	Import(ctx context.Context, data []byte, opts *spconfig.ImportOptions, preview bool, o spconfig.WaitOptions, started func(spconfig.Job) error) (spconfig.Job, *spconfig.ImportResults, error)
	ResumeImport(ctx context.Context, id string, o spconfig.WaitOptions) (spconfig.Job, *spconfig.ImportResults, error)
}

// Tenant is what a pipeline needs of an ISC tenant.
type Tenant interface {
	Exporter
	Importer
}

// Store is what a pipeline needs of the git repository.
type Store interface {
	Path() string
	Lock(ctx context.Context) (func() error, error)
	Sync(ctx context.Context) error
	Push(ctx context.Context, branches ...string) error
	Head() (gitstore.Hash, error)
	Resolve(rev string) (gitstore.Hash, error)
	ReadTenant(rev gitstore.Hash, tenant string) ([]gitstore.File, error)
	ReadFile(rev gitstore.Hash, path string) ([]byte, bool, error)
	ReadFiles(rev gitstore.Hash, paths []string) (map[string][]byte, error)
	ChangedPaths(from, to gitstore.Hash, prefix string) ([]string, error)
	Commit(ctx context.Context, s gitstore.CommitSpec) (gitstore.Hash, error)
	WriteTenant(ctx context.Context, tenant string, types []string, entries []spconfig.Entry, s gitstore.CommitSpec) (gitstore.Hash, error)
	TenantChanges(tenant string, types []string, entries []spconfig.Entry, s gitstore.CommitSpec) ([]gitstore.Change, error)
	Ref(name string) (gitstore.Hash, error)
	SetRef(name string, newH, oldH gitstore.Hash) error
	SetNote(commit gitstore.Hash, data []byte) error
	Note(commit gitstore.Hash) ([]byte, bool, error)
	Revert(ctx context.Context, commit gitstore.Hash, message string) (gitstore.Hash, error)
	CommitInfo(h gitstore.Hash) (gitstore.CommitInfo, error)
	RemoteBranch(ctx context.Context, branch string) (gitstore.Hash, error)
	IsAncestor(a, b gitstore.Hash) bool
}

// Runner runs the flows of one pipeline.
type Runner struct {
	Config   *Config
	Pipeline *PipelineConfig
	Store    Store
	Source   Tenant
	Target   Tenant
	Logger   *slog.Logger
	Now      func() time.Time
	// Wait tunes job polling; zero values take the client's defaults.
	Wait spconfig.WaitOptions
	// Hooks observe the run (metrics, notifications); all optional.
	Hooks Hooks
	// PullRequests opens pull requests in pull-request mode; nil only pushes
	// the branch.
	PullRequests PullRequester

	// rememberSource keeps the snapshot's unchanged entries decoded for the
	// plan that follows in the same run (gitstore.Snapshot.Remember).
	rememberSource bool

	showPlan func(*Plan) // set during Rollback to print the plan before import
}

// Hooks let callers observe a run without the pipeline knowing about them.
// All are optional.
type Hooks struct {
	// Step is called after every named step.
	Step func(pipeline, step string, d time.Duration, outcome string)
	// ImportStarted is called once a real import job was accepted and its
	// in-flight marker written, before polling.
	ImportStarted func(pipeline, jobID string)
	// Done is called when a flow (Run, Export, Plan, Apply, Rollback) ends.
	Done func(res *Result, err error)
}

// PullRequester opens or updates the pull request of a promotion branch
// (pull-request mode). The forge clients implement it.
type PullRequester interface {
	OpenOrUpdate(ctx context.Context, pr PullRequest) (url string, err error)
}

// PullRequest is what a pull-request mode run asks a forge for.
type PullRequest struct {
	Pipeline string
	Branch   string // head branch, e.g. promoter/dev-to-prod
	Base     string // the configured branch
	Title    string
	Body     string // the Markdown plan
}

// Outcome is how a flow ended.
type Outcome string

// Outcomes of a flow.
const (
	OutcomeNothing  Outcome = "nothing-to-do"
	OutcomeImported Outcome = "imported"
	OutcomeBlocked  Outcome = "blocked"
	OutcomeClean    Outcome = "clean"    // plan only: the preview passed the gate
	OutcomeProposed Outcome = "proposed" // pull-request mode: a branch waits for review
	OutcomeManual   Outcome = "awaiting-apply"
	OutcomeExported Outcome = "exported"
	OutcomeAdopted  Outcome = "adopted" // adopt: the live version of drifted objects was taken into git
	OutcomePartial  Outcome = "partial" // a real import halted after importing some of the objects (the flow fails)
)

// StepResult is one named step of a flow.
type StepResult struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"durationNs"`
	Outcome  string        `json:"outcome"`
	Detail   string        `json:"detail,omitempty"`
}

// Result is what a flow reports.
type Result struct {
	Pipeline string `json:"pipeline"`
	// Flow is the flow that produced the result: run, export, plan, apply
	// or rollback (notifications tell a rollback apart by it).
	Flow    string       `json:"flow,omitempty"`
	Outcome Outcome      `json:"outcome"`
	Steps   []StepResult `json:"steps"`
	// DryRun is set for a dry run (plan without --rev, run --dry-run): it
	// committed, pushed and imported nothing.
	DryRun bool `json:"dryRun,omitempty"`
	// BaselineCommit is the baseline commit of the target folder, if any.
	BaselineCommit string `json:"baselineCommit,omitempty"`
	// SnapshotCommit is the source snapshot commit (zero when nothing changed).
	SnapshotCommit string `json:"snapshotCommit,omitempty"`
	// PromotionCommit is the commit that changed the target folder, if any.
	PromotionCommit string  `json:"promotionCommit,omitempty"`
	Branch          string  `json:"branch,omitempty"`
	PullRequestURL  string  `json:"pullRequestUrl,omitempty"`
	Plan            *Plan   `json:"plan,omitempty"`
	Record          *Record `json:"record,omitempty"`
}

// BlockedError reports a flow stopped by a gate; the command exits 3.
type BlockedError struct {
	Pipeline string
	Reasons  []string
}

func (e *BlockedError) Error() string {
	msg := fmt.Sprintf("pipeline %s blocked:", e.Pipeline)
	for _, r := range e.Reasons {
		msg += "\n  - " + r
	}
	return msg
}

// IsBlocked reports whether err is a gate block.
func IsBlocked(err error) bool {
	var b *BlockedError
	return errors.As(err, &b)
}

// done stamps the flow's name on its result and calls the Done hook.
func (r *Runner) done(flow string, res *Result, err error) (*Result, error) {
	if res != nil {
		res.Flow = flow
	}
	if r.Hooks.Done != nil {
		r.Hooks.Done(res, err)
	}
	return res, err
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// step runs fn as a named step: it logs the start and the outcome with its
// duration and appends a StepResult to res.
func (r *Runner) step(ctx context.Context, res *Result, name string, fn func() (outcome, detail string, err error)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	start := r.now()
	outcome, detail, err := fn()
	d := r.now().Sub(start)
	if err != nil {
		outcome = "error"
		if IsBlocked(err) {
			outcome = "blocked"
		}
		if detail == "" {
			detail = err.Error()
		}
	}
	res.Steps = append(res.Steps, StepResult{Name: name, Duration: d, Outcome: outcome, Detail: detail})
	attrs := []any{"pipeline", r.Pipeline.Name, "step", name, "duration", d.Round(time.Millisecond), "outcome", outcome}
	if detail != "" && err == nil {
		attrs = append(attrs, "detail", detail)
	}
	if err != nil && !IsBlocked(err) {
		attrs = append(attrs, "error", err)
		r.log().Error("step failed", attrs...)
	} else {
		r.log().Info("step", attrs...)
	}
	if r.Hooks.Step != nil {
		r.Hooks.Step(r.Pipeline.Name, name, d, outcome)
	}
	if err != nil && !IsBlocked(err) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return err
}

func (r *Runner) waitOptions() spconfig.WaitOptions {
	o := r.Wait
	if o.Timeout == 0 {
		o.Timeout = r.Pipeline.JobTimeout.Duration
	}
	return o
}

// tenantDir is the repository folder of a tenant.
func tenantDir(name string) string { return "tenants/" + name + "/" }

func offeredRef(pipeline string) string { return "refs/promoter/offered/" + pipeline }
func appliedRef(target string) string   { return "refs/promoter/applied/" + target }
