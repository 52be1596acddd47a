package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"promoter/gitstore"
	"promoter/spconfig"
)

// exported is the outcome of the export step.
type exported struct {
	job     spconfig.Job
	header  spconfig.ExportHeader
	entries []spconfig.Entry
}

// exportFlow is Export without the Done hook.
func (r *Runner) exportFlow(ctx context.Context) (*Result, error) {
	res := &Result{Pipeline: r.Pipeline.Name, Outcome: OutcomeNothing}
	unlock, err := r.begin(ctx, res, false)
	if err != nil {
		return res, err
	}
	defer unlock()
	snap, err := r.exportSnapshot(ctx, res)
	if err != nil {
		return res, err
	}
	if !snap.IsZero() {
		res.Outcome = OutcomeExported
		if err := r.Store.Push(ctx); err != nil {
			return res, fmt.Errorf("push: %w", err)
		}
	}
	return res, nil
}

// exportSnapshot runs the export, guard and snapshot steps and returns the new
// snapshot commit (zero when nothing changed).
func (r *Runner) exportSnapshot(ctx context.Context, res *Result) (gitstore.Hash, error) {
	p := r.Pipeline
	types := pipelineTypes(p)
	if ss, ok := r.Store.(snapshotStore); ok {
		return r.streamSnapshot(ctx, res, ss, types)
	}
	ex, err := r.exportEntries(ctx, res)
	if err != nil {
		return gitstore.Hash{}, err
	}
	head, err := r.Store.Head()
	if err != nil {
		return gitstore.Hash{}, err
	}
	err = r.step(ctx, res, "guard", func() (string, string, error) {
		return r.guard(head, types, ex.entries)
	})
	if err != nil {
		return gitstore.Hash{}, err
	}

	var snap gitstore.Hash
	err = r.step(ctx, res, "snapshot", func() (string, string, error) {
		h, err := r.Store.WriteTenant(ctx, p.Source, types, ex.entries, r.snapshotSpec(ex.job, ex.header))
		if err != nil {
			return "", "", err
		}
		snap = h
		return snapshotOutcome(res, h)
	})
	return snap, err
}

// exportEntries runs the export step and keeps the sanitized entries.
func (r *Runner) exportEntries(ctx context.Context, res *Result) (exported, error) {
	p := r.Pipeline
	types := pipelineTypes(p)
	var ex exported
	err := r.step(ctx, res, "export", func() (string, string, error) {
		payload := spconfig.ExportPayload{
			Description:  "promoter " + p.Name + " snapshot of " + p.Source,
			IncludeTypes: types,
		}
		job, h, err := r.Source.Export(ctx, payload, r.waitOptions(), func(_ int, e spconfig.Entry) error {
			e, err := sanitize(p, e)
			if err != nil {
				return err
			}
			ex.entries = append(ex.entries, e)
			return nil
		})
		if err != nil {
			return "", "", fmt.Errorf("export %s: %w", p.Source, err)
		}
		ex.job, ex.header = job, h
		return "ok", fmt.Sprintf("job %s: %d objects", job.JobID, len(ex.entries)), nil
	})
	return ex, err
}

// exportChanges is the export of a dry run: export and guard as in a run,
// and the snapshot's changes returned instead of committed.
func (r *Runner) exportChanges(ctx context.Context, res *Result, head gitstore.Hash) ([]gitstore.Change, error) {
	types := pipelineTypes(r.Pipeline)
	ex, err := r.exportEntries(ctx, res)
	if err != nil {
		return nil, err
	}
	err = r.step(ctx, res, "guard", func() (string, string, error) {
		return r.guard(head, types, ex.entries)
	})
	if err != nil {
		return nil, err
	}
	var changes []gitstore.Change
	err = r.step(ctx, res, "snapshot", func() (string, string, error) {
		var err error
		changes, err = r.Store.TenantChanges(r.Pipeline.Source, types, ex.entries, gitstore.CommitSpec{})
		if err != nil {
			return "", "", err
		}
		return "dry-run", fmt.Sprintf("%d file(s) would change; nothing committed", len(changes)), nil
	})
	return changes, err
}

func (r *Runner) snapshotSpec(job spconfig.Job, h spconfig.ExportHeader) gitstore.CommitSpec {
	p := r.Pipeline
	return gitstore.CommitSpec{
		Message: fmt.Sprintf("Snapshot of tenant %s (%s)", p.Source, h.Tenant),
		Trailers: [][2]string{
			{"Promoter-Pipeline", p.Name},
			{"Promoter-Tenant", p.Source},
			{"Promoter-Export-Job", job.JobID},
			{"Promoter-Export-Timestamp", h.Timestamp},
		},
	}
}

func snapshotOutcome(res *Result, h gitstore.Hash) (string, string, error) {
	if h.IsZero() {
		return "unchanged", "no object changed; no commit", nil
	}
	res.SnapshotCommit = h.String()
	return "committed", "commit " + h.String()[:12], nil
}

// snapshotStore is a Store that writes a snapshot from a stream of entries
// (gitstore.Repo does), so a large export is compared with the stored files
// as it is decoded and never held in memory as a whole (issue 9).
type snapshotStore interface {
	NewSnapshot(tenant string, types []string, s gitstore.CommitSpec) (*gitstore.Snapshot, error)
}

// streamSnapshot is exportSnapshot on a snapshotStore: the same steps,
// outcomes and errors, with each entry added to the snapshot as it arrives.
// The commit message needs the job and header, which are known only after
// the download, so the spec is completed before the commit.
func (r *Runner) streamSnapshot(ctx context.Context, res *Result, ss snapshotStore, types []string) (gitstore.Hash, error) {
	p := r.Pipeline
	sn, err := ss.NewSnapshot(p.Source, types, gitstore.CommitSpec{})
	if err != nil {
		return gitstore.Hash{}, err
	}
	sn.Remember = r.rememberSource
	var (
		job     spconfig.Job
		header  spconfig.ExportHeader
		n       int
		unknown *spconfig.Entry // the first entry of a type SP-Config does not know
		counts  = map[string]int{}
	)
	err = r.step(ctx, res, "export", func() (string, string, error) {
		payload := spconfig.ExportPayload{
			Description:  "promoter " + p.Name + " snapshot of " + p.Source,
			IncludeTypes: types,
		}
		j, h, err := r.Source.Export(ctx, payload, r.waitOptions(), func(_ int, e spconfig.Entry) error {
			e, err := sanitize(p, e)
			if err != nil {
				return err
			}
			n++
			counts[e.Type()]++
			if !spconfig.Exportable(e.Type()) {
				if unknown == nil {
					unknown = &e
				}
				return nil
			}
			// A refused entry fails the snapshot step (Commit returns the
			// error), after the guard, as WriteTenant's check did.
			_ = sn.Add(e)
			return nil
		})
		if err != nil {
			return "", "", fmt.Errorf("export %s: %w", p.Source, err)
		}
		job, header = j, h
		return "ok", fmt.Sprintf("job %s: %d objects", j.JobID, n), nil
	})
	if err != nil {
		return gitstore.Hash{}, err
	}

	head, err := r.Store.Head()
	if err != nil {
		return gitstore.Hash{}, err
	}
	err = r.step(ctx, res, "guard", func() (string, string, error) {
		if unknown != nil {
			return "", "", unknownTypeError(*unknown)
		}
		return r.guardCounts(head, types, counts, n)
	})
	if err != nil {
		return gitstore.Hash{}, err
	}

	var snap gitstore.Hash
	err = r.step(ctx, res, "snapshot", func() (string, string, error) {
		sn.SetSpec(r.snapshotSpec(job, header))
		h, err := sn.Commit(ctx)
		if err != nil {
			return "", "", err
		}
		snap = h
		return snapshotOutcome(res, h)
	})
	return snap, err
}

// guard refuses an export that drops more than the configured share of any
// type's objects compared with the last snapshot: a half-empty export from a
// tenant hiccup must never become the desired state.
func (r *Runner) guard(head gitstore.Hash, types []string, entries []spconfig.Entry) (string, string, error) {
	after := map[string]int{}
	for _, e := range entries {
		if !spconfig.Exportable(e.Type()) {
			return "", "", unknownTypeError(e)
		}
		after[e.Type()]++
	}
	return r.guardCounts(head, types, after, len(entries))
}

func unknownTypeError(e spconfig.Entry) error {
	return fmt.Errorf("export contains unknown type %q (%s); refusing to snapshot it", e.Type(), e.Key())
}

// guardCounts is the guard on the export's per-type object counts.
func (r *Runner) guardCounts(head gitstore.Hash, types []string, after map[string]int, total int) (string, string, error) {
	before, err := r.snapshotCounts(head)
	if err != nil {
		return "", "", fmt.Errorf("read last snapshot: %w", err)
	}
	g := r.Pipeline.Guard
	var reasons []string
	for _, t := range types {
		b, a := before[t], after[t]
		if b == 0 || b < g.MinObjects || a >= b {
			continue
		}
		drop := float64(b-a) * 100 / float64(b)
		if drop > g.MaxDropPercent {
			reasons = append(reasons, fmt.Sprintf("%s: %d objects in the last snapshot, %d in this export (%.0f%% dropped, guard allows %.0f%%); if the deletions are real, raise guard.maxDropPercent for one run", t, b, a, drop, g.MaxDropPercent))
		}
	}
	sort.Strings(reasons)
	if len(reasons) > 0 {
		return "", strings.Join(reasons, "; "), &BlockedError{Pipeline: r.Pipeline.Name, Reasons: reasons}
	}
	return "ok", fmt.Sprintf("%d objects in %d types", total, len(after)), nil
}

// tenantCounter is a Store that counts a tenant's object files per type
// from its trees alone (gitstore.Repo does).
type tenantCounter interface {
	CountTenant(rev gitstore.Hash, tenant string) (map[string]int, error)
}

// snapshotCounts returns the number of objects per type in the source
// snapshot at head. Counting tree entries instead of reading and decoding
// every file keeps the guard cheap on large tenants (issue 9).
func (r *Runner) snapshotCounts(head gitstore.Hash) (map[string]int, error) {
	if c, ok := r.Store.(tenantCounter); ok {
		return c.CountTenant(head, r.Pipeline.Source)
	}
	prev, err := r.Store.ReadTenant(head, r.Pipeline.Source)
	if err != nil {
		return nil, err
	}
	before := map[string]int{}
	for _, f := range prev {
		before[f.Entry.Type()]++
	}
	return before, nil
}

// Export runs export, guard and snapshot for the pipeline's source tenant.
func (r *Runner) Export(ctx context.Context) (*Result, error) {
	res, err := r.exportFlow(ctx)
	return r.done("export", res, err)
}
