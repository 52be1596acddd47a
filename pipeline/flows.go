package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"promoter/gitstore"
	"promoter/spconfig"
)

// RunOptions tune Run.
type RunOptions struct {
	// DryRun runs every step up to the gate with each step's changes kept in
	// memory (export, baseline, proposal, plan, preview): it commits, pushes
	// and imports nothing and records no observation.
	DryRun bool
}

// runFlow is Run without the Done hook.
func (r *Runner) runFlow(ctx context.Context, o RunOptions) (*Result, error) {
	p := r.Pipeline
	res := &Result{Pipeline: p.Name, Outcome: OutcomeNothing, DryRun: o.DryRun}
	unlock, err := r.begin(ctx, res, !o.DryRun)
	if err != nil {
		return res, err
	}
	defer unlock()
	st, err := r.prepare(ctx, res, o.DryRun)
	if err != nil {
		return res, err
	}
	if p.Mode == "pull-request" && !o.DryRun {
		return r.finishPullRequest(ctx, res, st)
	}
	imp := p.Mode == "auto" && !o.DryRun
	res, err = r.planAndApply(ctx, res, st, imp)
	if o.DryRun {
		return res, err
	}
	return res, r.push(ctx, err)
}

// state is what a flow has gathered before the plan: the repository as the
// plan reads it, the live target, its drift reference and the proposal.
type state struct {
	write    bool     // the flow records observations (run, apply, rollback)
	declined []string // pull-request mode: files of a pull request closed without merging
	v        view
	obs      *observation
	ref      *reference
	prop     *proposal
}

// prepare runs the steps before the plan: export, guard and snapshot of the
// source (a source that is itself a target reads its desired state as last
// applied instead), the observation of the target, and propose (baseline and
// promotion). A dry run commits nothing: each step's changes are laid over
// the branch tip in memory.
func (r *Runner) prepare(ctx context.Context, res *Result, dry bool) (*state, error) {
	p := r.Pipeline
	head, err := r.Store.Head()
	if err != nil {
		return nil, err
	}
	st := &state{v: commitView(head), write: !dry}
	srcView := st.v
	if up := r.upstream(); up != "" {
		applied, err := r.Store.Ref(appliedRef(p.Source))
		if err != nil {
			return nil, err
		}
		srcView = commitView(applied)
		err = r.step(ctx, res, "export", func() (string, string, error) {
			return "skipped", fmt.Sprintf("%s is the target of pipeline %s: promoting its desired state as last applied (%s), not an export", p.Source, up, short(applied)), nil
		})
		if err != nil {
			return nil, err
		}
	} else if dry {
		changes, err := r.exportChanges(ctx, res)
		if err != nil {
			return nil, err
		}
		if st.v, err = st.v.with(r.Store, changes); err != nil {
			return nil, err
		}
		srcView = st.v
	} else {
		r.rememberSource = true // plan indexes the source folder
		if _, err := r.exportSnapshot(ctx, res); err != nil {
			return nil, err
		}
		if head, err = r.Store.Head(); err != nil {
			return nil, err
		}
		st.v = commitView(head)
		srcView = st.v
	}
	if err := r.observeStep(ctx, res, st, !dry); err != nil {
		return nil, err
	}
	var from *gitstore.Hash
	if p.Mode == "pull-request" && !dry {
		pr, err := r.pullRequestState(ctx, st.v.rev)
		if err != nil {
			if IsBlocked(err) {
				res.Outcome = OutcomeBlocked
			}
			return nil, err
		}
		if pr.pending {
			from = &pr.base
		}
		st.declined = pr.declined
	}
	err = r.step(ctx, res, "propose", func() (string, string, error) {
		prop, err := r.propose(st.v, srcView, st.obs, st.ref, from)
		if err != nil {
			return "", "", err
		}
		st.prop = prop
		detail := fmt.Sprintf("%d object(s) copied to %s", len(prop.changes), tenantDir(p.Target))
		if len(prop.baseline) > 0 {
			detail = fmt.Sprintf("baseline of %d live object(s) of %s, ", len(prop.baseline), p.Target) + detail
		}
		if len(prop.conflicts) > 0 {
			detail += fmt.Sprintf(", %d conflict(s)", len(prop.conflicts))
		}
		if dry {
			if st.v, err = st.v.with(r.Store, prop.baseline); err != nil {
				return "", "", err
			}
			if st.v, err = st.v.with(r.Store, prop.changes); err != nil {
				return "", "", err
			}
			st.ref = prop.referenceAfter(st.ref)
			prop.head = st.v.rev
			if len(prop.baseline)+len(prop.changes) == 0 {
				return "unchanged", detail, nil
			}
			return "dry-run", detail + "; nothing committed", nil
		}
		if err := r.commitProposal(ctx, prop, st.v.rev, st.obs); err != nil {
			return "", "", err
		}
		if len(prop.refTypes) > 0 {
			if st.ref, err = r.reference(); err != nil {
				return "", "", err
			}
		}
		if prop.branch == "" {
			st.v = commitView(prop.head)
		}
		if prop.commit.IsZero() && prop.baselineCommit.IsZero() {
			return "unchanged", detail, nil
		}
		res.PromotionCommit, res.Branch = prop.commit.String(), prop.branch
		if prop.commit.IsZero() {
			res.PromotionCommit = ""
		}
		res.BaselineCommit = hashOrEmpty(prop.baselineCommit)
		return "committed", detail, nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// referenceAfter is the drift reference once the proposal's baseline is
// recorded (what a dry run plans against).
func (prop *proposal) referenceAfter(ref *reference) *reference {
	if len(prop.refTypes) == 0 {
		return ref
	}
	out := &reference{has: maps.Clone(ref.has)}
	objects := map[spconfig.Key]gitstore.FileRef{}
	for _, f := range ref.objects.files {
		if k := f.Entry.Key(); !slices.Contains(prop.refTypes, k.Type) {
			objects[k] = f
		}
	}
	for _, t := range prop.refTypes {
		out.has[t] = true
	}
	for _, f := range prop.refObjects {
		objects[f.Entry.Key()] = f
	}
	out.objects = folderOf(objects)
	return out
}

// observeStep exports the live target (recorded on the observed ref when
// write is set and anything changed) and reads its drift reference.
func (r *Runner) observeStep(ctx context.Context, res *Result, st *state, write bool) error {
	return r.step(ctx, res, "observe", func() (string, string, error) {
		obs, err := r.observe(ctx, "plan", write)
		if err != nil {
			return "", "", err
		}
		ref, err := r.reference()
		if err != nil {
			return "", "", err
		}
		st.obs, st.ref = obs, ref
		detail := fmt.Sprintf("job %s: %d object(s)", obs.job, len(obs.live.files))
		switch {
		case !write:
			return "read", detail + " (not recorded)", nil
		case !obs.commit.IsZero():
			return "recorded", detail + ", observation " + short(obs.commit), nil
		}
		return "unchanged", detail + ", same as the last observation", nil
	})
}

// upstream names the pipeline whose target is this pipeline's source (a
// chain: sandbox -> uat -> prod), or "" when the source is only a source.
func (r *Runner) upstream() string {
	if r.Config == nil {
		return ""
	}
	for _, q := range r.Config.Pipelines {
		if q.Target == r.Pipeline.Source {
			return q.Name
		}
	}
	return ""
}

// finishPullRequest plans the promotion branch (the plan is the pull
// request's body) and pushes it; merging it and `promoter apply` import it.
func (r *Runner) finishPullRequest(ctx context.Context, res *Result, st *state) (*Result, error) {
	prop := st.prop
	if prop.commit.IsZero() {
		var blocked error
		if len(prop.conflicts) > 0 {
			res.Outcome = OutcomeBlocked
			blocked = &BlockedError{Pipeline: r.Pipeline.Name, Reasons: conflictReasons(prop.conflicts)}
		}
		// A push failure never replaces the block (push joins them).
		return res, r.push(ctx, blocked)
	}
	st.v = commitView(prop.commit)
	if _, err := r.planAndApply(ctx, res, st, false); err != nil && !IsBlocked(err) {
		return res, err
	}
	res.Outcome = OutcomeProposed
	if err := r.Store.Push(ctx, prop.branch); err != nil {
		return res, fmt.Errorf("push %s: %w", prop.branch, err)
	}
	if r.PullRequests == nil || res.Plan == nil {
		return res, nil
	}
	err := r.step(ctx, res, "pull-request", func() (string, string, error) {
		var body strings.Builder
		if err := RenderPlan(&body, res.Plan, FormatMarkdown, false); err != nil {
			return "", "", err
		}
		url, err := r.PullRequests.OpenOrUpdate(ctx, PullRequest{
			Pipeline: r.Pipeline.Name, Branch: prop.branch, Base: r.Config.Repo.Branch,
			Title: fmt.Sprintf("promoter: %s from %s to %s", r.Pipeline.Name, r.Pipeline.Source, r.Pipeline.Target),
			Body:  body.String(),
		})
		if err != nil {
			return "", "", fmt.Errorf("open pull request for %s: %w", prop.branch, err)
		}
		res.PullRequestURL = url
		return "ok", url, nil
	})
	return res, err
}

func conflictReasons(cs []Conflict) []string {
	var out []string
	for _, c := range cs {
		out = append(out, "conflict: "+c.Object+": "+c.Reason)
	}
	return out
}

// begin takes the repository lock, brings the branch up to date with the
// remote and, when resume is set, finishes an import a previous run started.
// The caller must call unlock.
func (r *Runner) begin(ctx context.Context, res *Result, resume bool) (unlock func() error, err error) {
	unlock, err = r.Store.Lock(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.Store.Sync(ctx); err != nil {
		unlock()
		return nil, fmt.Errorf("sync repository: %w", err)
	}
	if resume {
		if err := r.resumeInflight(ctx, res); err != nil {
			unlock()
			return nil, err
		}
	}
	return unlock, nil
}

// planFlow is Plan without the Done hook. Without a revision it shows what
// the next run would do (a dry run); with one it plans that revision's
// target folder against the live target. It writes nothing.
func (r *Runner) planFlow(ctx context.Context, rev string) (*Result, error) {
	if rev == "" {
		return r.runFlow(ctx, RunOptions{DryRun: true})
	}
	res := &Result{Pipeline: r.Pipeline.Name, Outcome: OutcomeNothing}
	h, err := r.resolve(rev)
	if err != nil {
		return res, err
	}
	st := &state{v: commitView(h)}
	if err := r.observeStep(ctx, res, st, false); err != nil {
		return res, err
	}
	return r.planAndApply(ctx, res, st, false)
}

// applyFlow is Apply without the Done hook.
func (r *Runner) applyFlow(ctx context.Context, rev string) (*Result, error) {
	res := &Result{Pipeline: r.Pipeline.Name, Outcome: OutcomeNothing}
	unlock, err := r.begin(ctx, res, true)
	if err != nil {
		return res, err
	}
	defer unlock()
	h, err := r.resolve(rev)
	if err != nil {
		return res, err
	}
	st, err := r.applyState(ctx, res, h)
	if err != nil {
		return res, err
	}
	res, err = r.planAndApply(ctx, res, st, true)
	return res, r.push(ctx, err)
}

// applyState observes the target for an apply of revision h. When h is the
// branch tip and some type has no drift reference yet, the baseline is taken
// first (committed), as a run would.
func (r *Runner) applyState(ctx context.Context, res *Result, h gitstore.Hash) (*state, error) {
	st := &state{v: commitView(h), write: true}
	if err := r.observeStep(ctx, res, st, true); err != nil {
		return nil, err
	}
	head, err := r.Store.Head()
	if err != nil || head != h {
		return st, err
	}
	prop := &proposal{}
	if err := r.planBaseline(prop, st.v, nil, st.obs, st.ref); err != nil {
		return nil, err
	}
	if len(prop.refTypes) == 0 {
		return st, nil
	}
	prop.srcRev, prop.offered = gitstore.Hash{}, gitstore.Hash{}
	if err := r.commitProposal(ctx, prop, h, st.obs); err != nil {
		return nil, err
	}
	st.v = commitView(prop.head)
	res.BaselineCommit = hashOrEmpty(prop.baselineCommit)
	st.ref, err = r.reference()
	return st, err
}

// rollbackFlow is Rollback without the Done hook.
func (r *Runner) rollbackFlow(ctx context.Context, to string, show func(*Plan)) (*Result, error) {
	res := &Result{Pipeline: r.Pipeline.Name, Outcome: OutcomeNothing}
	unlock, err := r.begin(ctx, res, true)
	if err != nil {
		return res, err
	}
	defer unlock()
	target, err := r.resolve(to)
	if err != nil {
		return res, err
	}
	err = r.step(ctx, res, "revert", func() (string, string, error) {
		n, err := r.revertSince(ctx, target)
		if err != nil {
			return "", "", err
		}
		if n == 0 {
			return "unchanged", fmt.Sprintf("%s already equals %s", tenantDir(r.Pipeline.Target), short(target)), nil
		}
		return "committed", fmt.Sprintf("%d commit(s) reverted", n), nil
	})
	if err != nil {
		return res, err
	}
	head, err := r.Store.Head()
	if err != nil {
		return res, err
	}
	st, err := r.applyState(ctx, res, head)
	if err != nil {
		return res, err
	}
	r.showPlan = show
	defer func() { r.showPlan = nil }()
	res, err = r.planAndApply(ctx, res, st, true)
	return res, r.push(ctx, err)
}

// revertSince reverts the commits after base (first-parent) that changed the
// target folder, newest first.
func (r *Runner) revertSince(ctx context.Context, base gitstore.Hash) (int, error) {
	head, err := r.Store.Head()
	if err != nil {
		return 0, err
	}
	dir := tenantDir(r.Pipeline.Target)
	var todo []gitstore.Hash
	h := head
	for h != base {
		ci, err := r.Store.CommitInfo(h)
		if err != nil {
			return 0, err
		}
		if len(ci.Parents) == 0 {
			return 0, &UsageError{fmt.Errorf("%s is not an ancestor of %s on the first-parent line; pass a commit of this branch to --to", short(base), short(head))}
		}
		changed, err := r.Store.ChangedPaths(ci.Parents[0], h, dir)
		if err != nil {
			return 0, err
		}
		// A baseline or an adoption records what the target held; reverting
		// it would restore nothing and empty the desired state.
		if len(changed) > 0 && ci.Trailers[trailerBaseline] == "" && ci.Trailers[trailerAdopt] == "" {
			todo = append(todo, h)
		}
		h = ci.Parents[0]
	}
	for _, c := range todo {
		ci, err := r.Store.CommitInfo(c)
		if err != nil {
			return 0, err
		}
		subject, _, _ := strings.Cut(ci.Message, "\n")
		msg := fmt.Sprintf("Revert %q\n\nThis reverts commit %s (promoter rollback of %s to %s).", subject, c, r.Pipeline.Target, short(base))
		if _, err := r.Store.Revert(ctx, c, msg); err != nil {
			return 0, fmt.Errorf("revert %s: %w", short(c), err)
		}
	}
	return len(todo), nil
}

func (r *Runner) resolve(rev string) (gitstore.Hash, error) {
	if rev == "" {
		rev = "HEAD"
	}
	h, err := r.Store.Resolve(rev)
	if err != nil {
		if head, herr := r.Store.Head(); herr == nil && head.IsZero() {
			return h, &UsageError{fmt.Errorf("revision %q: the repository has no commit yet; promoter plan without --rev (or run --dry-run) shows what the first run would do", rev)}
		}
		return h, &UsageError{err} // Store.Resolve's errors name the revision
	}
	return h, nil
}

// planAndApply runs plan, preview and gate on rev, then, when imp is set and
// the gate is clean, import, verify and record.
func (r *Runner) planAndApply(ctx context.Context, res *Result, st *state, imp bool) (*Result, error) {
	var pl *Plan
	var conflicts []Conflict
	if st.prop != nil {
		conflicts = st.prop.conflicts
	}
	err := r.step(ctx, res, "plan", func() (string, string, error) {
		var err error
		pl, err = r.plan(st.v, st.obs, st.ref)
		if err != nil {
			return "", "", err
		}
		pl.Conflicts = conflicts
		if pl.ConflictDiff, err = conflictDiff(conflicts); err != nil {
			return "", "", err
		}
		if st.prop != nil {
			pl.Baseline, pl.Proposed = st.prop.baselined, st.prop.changed
		}
		pl.Declined = st.declined
		pl.DryRun = res.DryRun
		return "ok", fmt.Sprintf("%d to import, %d drift, %d conflict, %d not importable, %d not deleted",
			pl.ImportCount(), pl.Counts[ClassDrift], pl.Counts[ClassConflict]+len(conflicts), pl.Counts[ClassNotImportable], pl.Counts[ClassNotDeleted]), nil
	})
	if err != nil {
		return res, err
	}
	// The desired state the plan read is for verify: a result keeps none of
	// it (a daemon holds its last results).
	defer func() { pl.desired = nil }()
	res.Plan = pl
	if st.write && len(pl.caughtUp) > 0 {
		var types []string
		for _, f := range pl.caughtUp {
			types = append(types, f.Entry.Type())
		}
		if _, err := r.recordReference(ctx, st.obs, "catch-up", types, referenceWith(st.ref, types, pl.caughtUp)); err != nil {
			return res, err
		}
	}
	// Nothing after this reads the plan's observation or the drift
	// reference (verify observes the target again): one collection, so the
	// collector's next goal comes from what stays (the plan, the desired
	// state), not from the plan's peak.
	st.obs, st.ref = nil, nil
	collect()
	// An edited signed object is refused before anything reaches the tenant.
	signed := r.signedUnmodified(pl, st.v)
	err = r.step(ctx, res, "preview", func() (string, string, error) {
		if len(pl.Payload) == 0 {
			return "skipped", "nothing to import", nil
		}
		if len(signed) > 0 {
			return "skipped", "signed objects were modified; no preview", nil
		}
		if err := r.preview(ctx, pl); err != nil {
			return "", "", err
		}
		return strings.ToLower(pl.Preview.Status), fmt.Sprintf("job %s: %d errors, %d warnings", pl.Preview.JobID, len(pl.Preview.Errors), len(pl.Preview.Warnings)), nil
	})
	if err != nil {
		return res, err
	}
	err = r.step(ctx, res, "gate", func() (string, string, error) {
		reasons := append(signed, r.gate(pl, conflicts)...)
		pl.Blocked = reasons
		switch {
		case len(reasons) > 0:
			pl.Verdict = string(OutcomeBlocked)
			return "", "", &BlockedError{Pipeline: r.Pipeline.Name, Reasons: reasons}
		case len(pl.Payload) == 0 && len(pl.HubPayload) == 0:
			pl.Verdict = string(OutcomeNothing)
			return "clean", "nothing to import", nil
		default:
			pl.Verdict = string(OutcomeClean)
			detail := fmt.Sprintf("%d object(s) may be imported", pl.ImportCount())
			if n := pl.HubCount(); n > 0 {
				detail += fmt.Sprintf(", %d deployed through Configuration Hub", n)
			}
			return "clean", detail, nil
		}
	})
	if r.showPlan != nil {
		r.showPlan(pl)
	}
	if err != nil {
		res.Outcome = OutcomeBlocked
		return res, err
	}
	if len(pl.Payload) == 0 && len(pl.HubPayload) == 0 {
		res.Outcome = OutcomeNothing
		return res, nil
	}
	if !imp {
		res.Outcome = OutcomeClean
		if r.Pipeline.Mode == "manual" {
			res.Outcome = OutcomeManual
		}
		return res, nil
	}
	if err := r.importPlan(ctx, res, pl); err != nil {
		if IsBlocked(err) {
			res.Outcome = OutcomeBlocked
		}
		return res, err
	}
	res.Outcome = OutcomeImported
	return res, nil
}

// push publishes the branch, refs and notes after a flow that wrote them. A
// flow's own error wins over a push error; a gate block is kept with the
// push error joined to it, so its exit code and reasons stay.
func (r *Runner) push(ctx context.Context, err error) error {
	perr := r.Store.Push(ctx)
	switch {
	case perr == nil:
		return err
	case err == nil:
		return fmt.Errorf("push: %w", perr)
	case IsBlocked(err):
		return errors.Join(err, fmt.Errorf("push: %w", perr))
	}
	return err
}

// Run executes the whole promotion: export, guard, snapshot, propose, plan,
// preview, gate, import, verify, record (DESIGN section 5).
func (r *Runner) Run(ctx context.Context, o RunOptions) (*Result, error) {
	res, err := r.runFlow(ctx, o)
	return r.done("run", res, err)
}

// Plan runs plan, preview and gate for a revision of the target folder
// (default the branch tip). It writes nothing and imports nothing.
func (r *Runner) Plan(ctx context.Context, rev string) (*Result, error) {
	res, err := r.planFlow(ctx, rev)
	return r.done("plan", res, err)
}

// Apply runs plan, preview, gate, import, verify and record for a revision
// (default the branch tip).
func (r *Runner) Apply(ctx context.Context, rev string) (*Result, error) {
	res, err := r.applyFlow(ctx, rev)
	return r.done("apply", res, err)
}

// Rollback restores the target folder to its content at rev by reverting,
// newest first, every later commit that changed it, shows the plan and
// applies it. The reverts are ordinary commits: history keeps both the
// promotion and its rollback.
func (r *Runner) Rollback(ctx context.Context, to string, show func(*Plan)) (*Result, error) {
	res, err := r.rollbackFlow(ctx, to, show)
	return r.done("rollback", res, err)
}
