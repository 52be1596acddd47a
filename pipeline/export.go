package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"promoter/gitstore"
	"promoter/spconfig"
)

// exportFlow is Export without the Done hook.
func (r *Runner) exportFlow(ctx context.Context) (*Result, error) {
	res := &Result{Pipeline: r.Pipeline.Name, Outcome: OutcomeNothing}
	unlock, err := r.begin(ctx, res, false)
	if err != nil {
		return res, err
	}
	defer unlock()
	if up := r.upstream(); up != "" {
		// A tenant that is a target is never snapshotted: its folder is its
		// desired state (DESIGN section 4, chains).
		err := r.step(ctx, res, "export", func() (string, string, error) {
			return "skipped", fmt.Sprintf("%s is the target of pipeline %s: its folder is its desired state, not an export; nothing to export", r.Pipeline.Source, up), nil
		})
		return res, err
	}
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
	h, _, err := r.streamSnapshot(ctx, res, pipelineTypes(r.Pipeline), false)
	return h, err
}

// exportChanges is the export of a dry run: export and guard as in a run,
// and the snapshot's changes returned instead of committed.
func (r *Runner) exportChanges(ctx context.Context, res *Result) ([]gitstore.Change, error) {
	_, changes, err := r.streamSnapshot(ctx, res, pipelineTypes(r.Pipeline), true)
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

// streamSnapshot runs export, guard and snapshot with each entry added to
// the snapshot as it arrives, so a large export is compared with the stored
// files as it is decoded and never held in memory as a whole (issue 9). A
// dry run returns the snapshot's changes instead of committing them.
// The commit message needs the job and header, which are known only after
// the download, so the spec is completed before the commit.
func (r *Runner) streamSnapshot(ctx context.Context, res *Result, types []string, dry bool) (gitstore.Hash, []gitstore.Change, error) {
	p := r.Pipeline
	sn, err := r.Store.NewSnapshot(p.Source, types, gitstore.CommitSpec{})
	if err != nil {
		return gitstore.Hash{}, nil, err
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
		// The snapshot compares the entries (encoding and hashing each) on
		// a goroutine of its own, beside the download and decode (issue 18).
		adds, added := make(chan spconfig.Entry, 256), make(chan struct{})
		go func() {
			defer close(added)
			for e := range adds {
				// A refused entry fails the snapshot step (Commit returns the
				// error), after the guard, as WriteTenant's check did.
				_ = sn.Add(e)
			}
		}()
		defer func() { close(adds); <-added }()
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
			adds <- e
			return nil
		})
		if err != nil {
			return "", "", fmt.Errorf("export %s: %w", p.Source, err)
		}
		job, header = j, h
		r.sourceOrgSeen = h.Tenant
		return "ok", fmt.Sprintf("job %s: %d objects", j.JobID, n), nil
	})
	if err != nil {
		return gitstore.Hash{}, nil, err
	}

	head, err := r.Store.Head()
	if err != nil {
		return gitstore.Hash{}, nil, err
	}
	err = r.step(ctx, res, "guard", func() (string, string, error) {
		if unknown != nil {
			return "", "", unknownTypeError(*unknown)
		}
		return r.guardCounts(head, types, counts, n)
	})
	if err != nil {
		return gitstore.Hash{}, nil, err
	}

	var snap gitstore.Hash
	var changes []gitstore.Change
	err = r.step(ctx, res, "snapshot", func() (string, string, error) {
		if dry {
			var err error
			if changes, err = sn.Changes(); err != nil {
				return "", "", err
			}
			return "dry-run", fmt.Sprintf("%d file(s) would change; nothing committed", len(changes)), nil
		}
		sn.SetSpec(r.snapshotSpec(job, header))
		h, err := sn.Commit(ctx)
		if err != nil {
			return "", "", err
		}
		snap = h
		return snapshotOutcome(res, h)
	})
	return snap, changes, err
}

func unknownTypeError(e spconfig.Entry) error {
	return fmt.Errorf("export contains unknown type %q (%s); refusing to snapshot it", e.Type(), e.Key())
}

// guardCounts is the guard: it refuses an export that drops more than the
// configured share of any type's objects compared with the last snapshot (a
// half-empty export from a tenant hiccup must never become the desired
// state).
func (r *Runner) guardCounts(head gitstore.Hash, types []string, after map[string]int, total int) (string, string, error) {
	before, err := r.snapshotCounts(head)
	if err != nil {
		return "", "", fmt.Errorf("read last snapshot: %w", err)
	}
	g := r.Pipeline.Guard
	var reasons []string
	if g.MinObjects > 0 && total < g.MinObjects {
		reasons = append(reasons, fmt.Sprintf("the export holds %d objects in total, fewer than guard.minObjects (%d): a partial export? if %s really holds so few, lower guard.minObjects", total, g.MinObjects, r.Pipeline.Source))
	}
	for _, t := range types {
		b, a := before[t], after[t]
		if b == 0 || a >= b {
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

// snapshotCounts returns the number of objects per type in the source
// snapshot at head. Counting tree entries instead of reading and decoding
// every file keeps the guard cheap on large tenants (issue 9).
func (r *Runner) snapshotCounts(head gitstore.Hash) (map[string]int, error) {
	return r.Store.CountTenant(head, r.Pipeline.Source)
}

// Export runs export, guard and snapshot for the pipeline's source tenant.
func (r *Runner) Export(ctx context.Context) (*Result, error) {
	res, err := r.exportFlow(ctx)
	return r.done("export", res, err)
}
