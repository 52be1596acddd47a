package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"promoter/spconfig"
)

// resumeCheck is how long a run waits for an import that a previous run
// started once that import has had its whole jobTimeout: one look, not
// another jobTimeout, so a hung import costs each later run seconds.
const resumeCheck = time.Second

// resumeWait is the wait for an import job started at started: what is left
// of jobTimeout since then, at least resumeCheck.
func (r *Runner) resumeWait(started time.Time) spconfig.WaitOptions {
	o := r.waitOptions()
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute // the client's default
	}
	o.Timeout = max(o.Timeout-r.now().Sub(started), min(resumeCheck, o.Timeout))
	return o
}

// resumeCommand is the command that records import job id by hand.
func (r *Runner) resumeCommand(id string) string {
	cfg := "promotion.yaml"
	if r.Config != nil && r.Config.Path != "" {
		cfg = r.Config.Path
	}
	return fmt.Sprintf("promoter resume --config %s --pipeline %s --job %s", cfg, r.Pipeline.Name, id)
}

// resumeInflight finishes an import a previous process started but did not
// record (it crashed, was killed or timed out). It never starts an import.
func (r *Runner) resumeInflight(ctx context.Context, res *Result) error {
	rec, ok, err := readInflight(r.Store.Path(), r.Pipeline.Target)
	if err != nil || !ok {
		return err
	}
	if rec.ImportJob == "" {
		return fmt.Errorf("a previous run was requesting an import on %s at %s (payload sha256 %s) and stopped before the tenant answered; the import may have started: check the tenant's import jobs for one started then; if there is one, record it with %s; if there is none, delete %s to continue",
			rec.Target, rec.Started.Format(time.RFC3339), rec.PayloadSHA256, r.resumeCommand("JOB_ID"), inflightPath(r.Store.Path(), rec.Target))
	}
	return r.step(ctx, res, "resume", func() (string, string, error) {
		r.log().Warn("found an import that a previous run started but did not record", "job", rec.ImportJob, "target", rec.Target, "started", rec.Started)
		return r.resumeJob(ctx, res, rec, r.resumeWait(rec.Started))
	})
}

// resumeJob waits (o) for the import job rec.ImportJob, then records it as
// an import does: a FAILED or CANCELLED job as failed or partial, a COMPLETE
// one verified, recorded and applied. A record without objects (promoter
// resume without a marker) takes them from the job's results.
func (r *Runner) resumeJob(ctx context.Context, res *Result, rec *Record, o spconfig.WaitOptions) (string, string, error) {
	marker := inflightPath(r.Store.Path(), rec.Target)
	job, results, err := r.Target.ResumeImport(ctx, rec.ImportJob, o)
	rec.ImportStatus, rec.ImportResults = job.Status, results
	if results != nil {
		rec.BackupJob = results.ExportJobID
	}
	var apiErr *spconfig.APIError
	var je *spconfig.JobError
	var te *spconfig.TimeoutError
	switch {
	case errors.As(err, &je):
		if rec.Objects == nil {
			rec.Objects, rec.Types = importedObjects(je.Results)
		}
		return "", "", r.failedImport(ctx, res, rec, je)
	case errors.As(err, &te):
		return "", "", fmt.Errorf("import job %s on %s, started %s (%s ago), is still %s; promoter imports nothing on %s while it may still run: check the job in the tenant; when it has ended, the next run records it, or record it at once with %s; if the tenant shows it imported nothing and will not finish, delete %s to continue",
			rec.ImportJob, rec.Target, rec.Started.Format(time.RFC3339), r.now().Sub(rec.Started).Round(time.Second), orUnknownStatus(te.Last.Status),
			rec.Target, r.resumeCommand(rec.ImportJob), marker)
	case errors.As(err, &apiErr) && apiErr.NotFound():
		if _, ok, _ := readInflight(r.Store.Path(), rec.Target); !ok {
			return "", "", fmt.Errorf("import job %s is unknown to %s; check the id in the tenant's import jobs", rec.ImportJob, rec.Target)
		}
		return "", "", fmt.Errorf("import job %s (started %s) is unknown to %s; check the tenant's import jobs, then delete %s to continue",
			rec.ImportJob, rec.Started.Format(time.RFC3339), rec.Target, marker)
	case err != nil:
		return "", "", fmt.Errorf("check import job %s on %s: %w; the next run checks it again, or record it with %s once it has ended",
			rec.ImportJob, rec.Target, err, r.resumeCommand(rec.ImportJob))
	}
	if rec.Objects == nil {
		if err := r.matchResults(rec, results); err != nil {
			return "", "", err
		}
	}
	var inner Result
	if err := r.verifyAndRecord(ctx, &inner, rec, nil); err != nil {
		return "", "", err
	}
	res.Steps = append(res.Steps, inner.Steps...)
	res.Resumed = rec
	return "recorded", "import job " + rec.ImportJob + " completed; recorded", nil
}

func orUnknownStatus(s string) string {
	if s == "" {
		return "running"
	}
	return s
}

// importedObjects lists the objects an import's results say it imported,
// and their types.
func importedObjects(results *spconfig.ImportResults) (objects, types []string) {
	if results == nil {
		return nil, nil
	}
	for _, t := range sortedKeys(results.Results) {
		for _, o := range results.Results[t].ImportedObjects {
			typ := o.Type
			if typ == "" {
				typ = t
			}
			objects = append(objects, typ+" "+sourceSuffix.ReplaceAllString(o.Name, ""))
			if !slices.Contains(types, typ) {
				types = append(types, typ)
			}
		}
	}
	return objects, types
}

// matchResults names the objects of rec's revision that a completed import
// job imported (its results list them by type and name): every object the
// job imported must be one of the desired state, or nothing is recorded.
func (r *Runner) matchResults(rec *Record, results *spconfig.ImportResults) error {
	listed, types := importedObjects(results)
	if len(listed) == 0 {
		return fmt.Errorf("import job %s on %s imported no objects: nothing to record", rec.ImportJob, rec.Target)
	}
	desired, err := r.managed(commitView(hashOf(rec.Revision)), pipelineTypes(r.Pipeline))
	if err != nil {
		return err
	}
	byName := map[string][]string{} // "TYPE name" -> keys of the desired state
	for _, f := range desired.files {
		k := f.Entry.Key()
		byName[k.Type+" "+k.Name] = append(byName[k.Type+" "+k.Name], k.String())
	}
	var missing []string
	for _, o := range listed {
		keys := byName[o]
		if len(keys) == 0 {
			missing = append(missing, o)
			continue
		}
		slices.Sort(keys)
		rec.Objects = append(rec.Objects, keys...)
	}
	if len(missing) > 0 {
		return fmt.Errorf("import job %s on %s imported %s, not in the desired state at %s: not recorded; give the revision it imported with --rev",
			rec.ImportJob, rec.Target, strings.Join(missing, ", "), shortStr(rec.Revision))
	}
	slices.Sort(rec.Objects)
	rec.Objects = slices.Compact(rec.Objects)
	rec.Types = types
	return nil
}

// Resume records import job id found in the target (promoter resume): the
// in-flight marker's import when there is one (a run that stopped before
// the tenant answered leaves a marker without a job id), otherwise an import
// of revision rev (default the branch tip) that no marker names. The job
// must have ended; a COMPLETE one is verified against the desired state and
// recorded, and applied moves, as when a run resumes an import. It never
// starts an import.
func (r *Runner) Resume(ctx context.Context, id, rev string) (*Result, error) {
	res, err := r.resumeFlow(ctx, id, rev)
	return r.done("resume", res, err)
}

func (r *Runner) resumeFlow(ctx context.Context, id, rev string) (*Result, error) {
	res := &Result{Pipeline: r.Pipeline.Name, Outcome: OutcomeNothing}
	if strings.TrimSpace(id) == "" {
		return res, &UsageError{Err: errors.New("resume: --job names the import job to record")}
	}
	unlock, err := r.begin(ctx, res, false)
	if err != nil {
		return res, err
	}
	defer unlock()
	rec, ok, err := readInflight(r.Store.Path(), r.Pipeline.Target)
	if err != nil {
		return res, err
	}
	switch {
	case ok && rec.ImportJob != "" && rec.ImportJob != id:
		return res, &UsageError{Err: fmt.Errorf("resume: the in-flight marker %s names import job %s, not %s: promoter run resumes %s; if %s is the import to record, check %s in the tenant and delete the marker first",
			inflightPath(r.Store.Path(), rec.Target), rec.ImportJob, id, rec.ImportJob, id, rec.ImportJob)}
	case ok:
		// The marker keeps no job id until the job is recorded: a job
		// the tenant does not know leaves it as it was.
		rec.ImportJob = id
	default:
		if rec, err = r.handRecord(id, rev); err != nil || rec == nil {
			return res, err
		}
	}
	err = r.step(ctx, res, "resume", func() (string, string, error) {
		return r.resumeJob(ctx, res, rec, r.waitOptions())
	})
	if err != nil {
		return res, r.push(ctx, err)
	}
	res.Outcome = OutcomeImported
	return res, r.push(ctx, nil)
}

// handRecord starts the record of import job id of revision rev when no
// marker names it; nil when a record of that job is already there.
func (r *Runner) handRecord(id, rev string) (*Record, error) {
	if rev == "" {
		rev = "HEAD"
	}
	h, err := r.resolve(rev)
	if err != nil {
		return nil, err
	}
	if old, ok, err := r.Store.Note(h); err == nil && ok {
		var all []Record
		if json.Unmarshal(old, &all) == nil {
			for _, o := range all {
				if o.ImportJob == id && o.Target == r.Pipeline.Target && o.Verdict == "imported" {
					r.log().Info("import job already recorded", "job", id, "revision", short(h))
					return nil, nil
				}
			}
		}
	}
	applied, err := r.Store.Ref(appliedRef(r.Pipeline.Target))
	if err != nil {
		return nil, err
	}
	return &Record{Pipeline: r.Pipeline.Name, Source: r.Pipeline.Source, Target: r.Pipeline.Target, Revision: h.String(),
		PreviousApplied: hashOrEmpty(applied), ImportJob: id, Started: r.now().UTC(),
		Message: "recorded by promoter resume"}, nil
}
