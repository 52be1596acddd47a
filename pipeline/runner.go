package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"promoter/config"
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

// Store is what a pipeline needs of the git repository (gitstore.Repo).
// Revisions are commit hashes; the zero Hash is "no commit" (an empty
// repository, a missing ref). Paths are repository-relative with slashes.
type Store interface {
	// Path returns the working copy's folder.
	Path() string
	// Lock takes the repository lock (waiting while another process holds
	// it, until ctx ends) and finishes an interrupted working-tree update;
	// the caller must call the returned unlock.
	Lock(ctx context.Context) (unlock func() error, err error)
	// Sync brings the branch and the bookkeeping refs up to date with the
	// remote (nothing without one).
	Sync(ctx context.Context) error
	// Push publishes the branch, the given extra branches (promoter's own,
	// pushed with force), the bookkeeping refs and notes.
	Push(ctx context.Context, branches ...string) error
	// Head returns the tip of the configured branch (zero before the first
	// commit).
	Head() (gitstore.Hash, error)
	// Resolve turns a revision (HEAD, a branch, tag or ref, a hash, with ~N
	// or ^) into a commit; an ambiguous name is a *gitstore.AmbiguousError.
	// Its errors name the revision, so callers do not repeat it.
	Resolve(rev string) (gitstore.Hash, error)
	// ReadTenantEntries returns every object file of tenants/<tenant>/ at
	// rev, sorted by path (none for the zero rev), with thin entries and
	// blob ids and no bytes.
	ReadTenantEntries(rev gitstore.Hash, tenant string) ([]gitstore.FileRef, error)
	// ReadTenantThin returns the thin entries of the same files, without
	// paths or blob ids (for an id index), and the files of those want
	// accepts (none for a nil want).
	ReadTenantThin(rev gitstore.Hash, tenant string, want func(*spconfig.Entry) bool) ([]*spconfig.Entry, []gitstore.FileRef, error)
	// Load reads the files of refs (a thin entry's by its blob id).
	Load(refs []gitstore.FileRef) ([]gitstore.File, error)
	// ReadBlob returns the bytes of a blob the repository holds.
	ReadBlob(h gitstore.Hash) ([]byte, error)
	// ReadFile returns one file's bytes at rev; ok is false when it does not
	// exist there.
	ReadFile(rev gitstore.Hash, path string) (data []byte, ok bool, err error)
	// ReadFiles returns the bytes of the paths that exist at rev.
	ReadFiles(rev gitstore.Hash, paths []string) (map[string][]byte, error)
	// ChangedPaths lists the files under prefix that differ between two
	// commits (from zero: every file at to), sorted.
	ChangedPaths(from, to gitstore.Hash, prefix string) ([]string, error)
	// Commit writes the changes as one commit on s.Branch (default the
	// configured branch) and updates the working tree when that branch is
	// checked out; it returns the zero Hash when nothing changed (unless
	// s.AllowEmpty) and never overwrites uncommitted edits.
	Commit(ctx context.Context, s gitstore.CommitSpec) (gitstore.Hash, error)
	// WriteTenant makes tenants/<tenant>/<TYPE>/ of s.Branch match entries
	// for every type in types (semantically equal files keep their bytes)
	// and commits; zero when nothing changed (unless s.AllowEmpty).
	WriteTenant(ctx context.Context, tenant string, types []string, entries []spconfig.Entry, s gitstore.CommitSpec) (gitstore.Hash, error)
	// WriteTenantFiles is WriteTenant of files whose entries may be thin
	// (their files are their blobs).
	WriteTenantFiles(ctx context.Context, tenant string, types []string, files []gitstore.FileRef, s gitstore.CommitSpec) (gitstore.Hash, error)
	// NewSnapshot starts a streamed WriteTenant: entries are added one by
	// one and compared with the stored files as they arrive; its Commit
	// writes the commit.
	NewSnapshot(tenant string, types []string, s gitstore.CommitSpec) (*gitstore.Snapshot, error)
	// CountTenant counts a tenant's object files per type at rev from the
	// trees alone (no file is read).
	CountTenant(rev gitstore.Hash, tenant string) (map[string]int, error)
	// Ref returns a ref's commit (zero when it does not exist).
	Ref(name string) (gitstore.Hash, error)
	// SetRef moves ref name from oldH to newH atomically (compare-and-swap:
	// oldH zero means it must not exist, newH zero deletes it).
	SetRef(name string, newH, oldH gitstore.Hash) error
	// SetNote replaces the note (refs/notes/promoter) on a commit.
	SetNote(commit gitstore.Hash, data []byte) error
	// Note returns a commit's note; ok is false when it has none.
	Note(commit gitstore.Hash) (data []byte, ok bool, err error)
	// Revert commits the inverse of commit's changes on the branch.
	Revert(ctx context.Context, commit gitstore.Hash, message string) (gitstore.Hash, error)
	// CommitInfo returns a commit's message, trailers, parents and time.
	CommitInfo(h gitstore.Hash) (gitstore.CommitInfo, error)
	// RemoteBranch returns a branch's tip on the remote, fetched so it can
	// be read (zero when the remote has no such branch; the local branch
	// without a remote).
	RemoteBranch(ctx context.Context, branch string) (gitstore.Hash, error)
	// IsAncestor reports whether a is b or one of its ancestors.
	IsAncestor(a, b gitstore.Hash) bool
}

// Runner runs the flows of one pipeline.
type Runner struct {
	Config   *config.Config
	Pipeline *config.Pipeline
	Store    Store
	Source   Tenant
	Target   Tenant
	// Hub deploys the objects SP-Config cannot import through the target's
	// Configuration Hub (deploy.configurationHub); nil when off.
	Hub    ConfigHub
	Logger *slog.Logger
	Now    func() time.Time
	// Wait tunes job polling; zero values take the client's defaults.
	Wait spconfig.WaitOptions
	// Hooks observe the run (metrics, notifications); all optional.
	Hooks Hooks
	// PullRequests opens pull requests in pull-request mode; nil only pushes
	// the branch.
	PullRequests PullRequester

	// rememberSource keeps the snapshot's entries as thin entries for the
	// plan that follows in the same run (gitstore.Snapshot.Remember).
	rememberSource bool

	showPlan      func(*Plan) // set during Rollback to print the plan before import
	sourceOrgSeen string      // the source's org name, as this process's export of it said
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

// PullRequestStater tells what became of the last pull request of a branch
// (the GitHub and GitLab clients implement it; with provider none the
// branch's presence on the remote tells).
type PullRequestStater interface {
	// LastState returns PullRequestOpen, PullRequestMerged,
	// PullRequestClosed (closed without merging), or "" when the forge has
	// no pull request from the branch.
	LastState(ctx context.Context, branch string) (string, error)
}

// States of a pull request (PullRequestStater).
const (
	PullRequestOpen   = "open"
	PullRequestMerged = "merged"
	PullRequestClosed = "closed"
)

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
	// Resumed is the import a previous run started that this flow found,
	// verified and recorded (promoter resume, or a run or apply that
	// resumed it before its own steps).
	Resumed *Record `json:"resumed,omitempty"`
}

// Report is the outcome as people read it: "imported (resumed)" when the
// import the flow reports is one a previous run started and this flow
// recorded.
func (res *Result) Report() string {
	if res.Outcome == OutcomeImported && res.Resumed != nil && res.Record == nil {
		return string(res.Outcome) + " (resumed)"
	}
	return string(res.Outcome)
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

// done stamps the flow's name on its result, settles the outcome of a flow
// that ended with an error (a gate block is blocked, anything else failed:
// never the nothing-to-do it started with) and calls the Done hook.
func (r *Runner) done(flow string, res *Result, err error) (*Result, error) {
	if res != nil {
		res.Flow = flow
		switch {
		case err == nil && res.Outcome == OutcomeNothing && res.Resumed != nil && res.Resumed.Verdict == "imported":
			// The flow itself had nothing to do: what it did was the
			// resumed import.
			res.Outcome = OutcomeImported
		case err == nil:
		case IsBlocked(err):
			res.Outcome = OutcomeBlocked
		case res.Outcome == OutcomePartial:
			// a failed flow that imported some objects says so
		default:
			res.Outcome = OutcomeFailed
		}
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
		return stepError(name, err)
	}
	return err
}

// stepError prefixes a step's error with the step's name, unless the error
// already starts with it ("import on prod: ..."), so a chain reads
// "import on prod: ..." rather than "import: import on prod: ...".
func stepError(name string, err error) error {
	if msg := err.Error(); strings.HasPrefix(msg, name+" ") || strings.HasPrefix(msg, name+":") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
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

// collect runs the garbage collector once the plan is made, when the sets
// and id indexes it compared are garbage. The collector lets the heap grow
// to twice what its last cycle found live before it runs again; without
// this, that last cycle is one in the plan's peak, and verify's export of
// the target fills the room it leaves (issue 18: at 50,000 objects the
// run's peak RSS came from the heap verify grew to, twice the plan's peak).
// It costs one collection, tens of milliseconds.
func collect() { runtime.GC() }
