package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
)

// Record is kept in git (a note under refs/notes/promoter on the imported
// commit) for every real import, so job ids and results outlive the tenant's
// 7-day job expiry.
type Record struct {
	Pipeline        string `json:"pipeline"`
	Source          string `json:"source"`
	Target          string `json:"target"`
	Revision        string `json:"revision"`
	PreviousApplied string `json:"previousApplied,omitempty"`
	LiveExportJob   string `json:"liveExportJob,omitempty"`
	PreviewJob      string `json:"previewJob,omitempty"`
	ImportJob       string `json:"importJob,omitempty"`
	BackupJob       string `json:"backupJob,omitempty"`
	VerifyJob       string `json:"verifyJob,omitempty"`
	// HubObjects went through Configuration Hub: upload HubUpload, draft
	// HubDraft, deploy HubDeploy (status HubStatus).
	HubObjects []string `json:"hubObjects,omitempty"`
	HubUpload  string   `json:"hubUpload,omitempty"`
	HubDraft   string   `json:"hubDraft,omitempty"`
	HubDeploy  string   `json:"hubDeploy,omitempty"`
	HubStatus  string   `json:"hubStatus,omitempty"`
	// Observed is the observation commit (refs/promoter/observed/<target>)
	// taken by verify: the target after the import, the drift reference.
	Observed      string   `json:"observed,omitempty"`
	PayloadSHA256 string   `json:"payloadSha256"`
	Objects       []string `json:"objects"`
	// Imported and NotImported split Objects after an import that ended
	// FAILED: a real import halts at the first error, so the objects its
	// results list were imported and the rest were not. Errors are the
	// import's error messages.
	Imported       []string                `json:"imported,omitempty"`
	NotImported    []string                `json:"notImported,omitempty"`
	Errors         []TypedMessage          `json:"errors,omitempty"`
	Types          []string                `json:"types"`
	PreviewResults *spconfig.ImportResults `json:"previewResults,omitempty"`
	ImportStatus   string                  `json:"importStatus,omitempty"`
	ImportResults  *spconfig.ImportResults `json:"importResults,omitempty"`
	Verdict        string                  `json:"verdict"`
	Message        string                  `json:"message,omitempty"`
	Started        time.Time               `json:"started"`
	Finished       time.Time               `json:"finished,omitzero"`
}

// preview runs the import with preview=true on the plan's payload.
func (r *Runner) preview(ctx context.Context, pl *Plan) error {
	if len(pl.Payload) == 0 {
		return nil
	}
	job, results, err := r.Target.Import(ctx, pl.Payload, nil, true, r.waitOptions(), nil)
	rep := &PreviewReport{JobID: job.JobID, Status: job.Status, Results: results}
	pl.Preview = rep
	var je *spconfig.JobError
	if err != nil && !errors.As(err, &je) {
		return fmt.Errorf("preview import on %s: %w", r.Pipeline.Target, err)
	}
	if je != nil {
		rep.Status = je.Job.Status
		if je.Results != nil {
			rep.Results = je.Results
		}
	}
	if rep.Results != nil {
		for _, t := range sortedKeys(rep.Results.Results) {
			res := rep.Results.Results[t]
			for _, m := range res.Errors {
				rep.Errors = append(rep.Errors, TypedMessage{Type: t, Key: m.Key, Text: m.Text})
			}
			for _, m := range res.Warnings {
				rep.Warnings = append(rep.Warnings, TypedMessage{Type: t, Key: m.Key, Text: m.Text})
			}
		}
	}
	if je != nil && len(rep.Errors) == 0 {
		msg := je.Job.Message
		if msg == "" {
			msg = "no details"
		}
		rep.Errors = append(rep.Errors, TypedMessage{Key: "JOB_" + je.Job.Status, Text: "preview job " + je.Job.Status + ": " + msg})
	}
	return nil
}

// gate decides whether the plan may be imported. It returns the reasons it is
// not clean; none means clean.
func (r *Runner) gate(pl *Plan, conflicts []Conflict) []string {
	g := &r.Pipeline.Gate
	var reasons []string
	for _, c := range conflicts {
		reasons = append(reasons, "conflict: "+c.Object+": "+c.Reason)
	}
	for _, it := range pl.Items {
		switch {
		case it.Class == ClassConflict:
			reasons = append(reasons, fmt.Sprintf("conflict: %s %s; resolve in git (match the target) or fix the tenant", it.Object(), it.Reason))
		case it.Class == ClassDrift && !spconfig.Importable(it.Type()):
			// gate.onDrift: overwrite cannot import it
			reasons = append(reasons, fmt.Sprintf("drift: %s changed in %s outside git; SP-Config cannot import %s: take the live version into git with promoter adopt, or restore it in the tenant", it.Object(), pl.Target, it.Type()))
		case it.Class == ClassDrift && g.OnDrift != "overwrite":
			reasons = append(reasons, fmt.Sprintf("drift: %s changed in %s outside git; bring the change into git or set gate.onDrift: overwrite", it.Object(), pl.Target))
		}
	}
	reasons = append(reasons, r.payloadReasons(pl)...)
	if limit, ok := g.ChangeLimit(); ok && pl.ImportCount()+pl.HubCount() > limit {
		reasons = append(reasons, fmt.Sprintf("change budget: %d objects to import or deploy, gate.maxChanges is %d; split the change or raise the budget", pl.ImportCount()+pl.HubCount(), limit))
	}
	if len(pl.Payload) > 0 {
		switch {
		case pl.Preview == nil && len(reasons) > 0:
			// blocked anyway; the preview was not needed
		case pl.Preview == nil:
			reasons = append(reasons, "no preview was run")
		default:
			for _, m := range pl.Preview.Errors {
				reasons = append(reasons, fmt.Sprintf("preview error (%s): %s", m.Type, m.Text))
			}
			for _, m := range pl.Preview.Warnings {
				if !g.WarningAllowed(m.Text) {
					reasons = append(reasons, fmt.Sprintf("preview warning (%s) not allowed by gate.allowWarnings: %s", m.Type, m.Text))
				}
			}
			if pl.Preview.Status != spconfig.StatusComplete && len(pl.Preview.Errors) == 0 {
				reasons = append(reasons, "preview job ended "+pl.Preview.Status)
			}
		}
	}
	reasons = append(reasons, r.holdReasons()...)
	if w, closes, open := g.OpenDenyWindow(r.now()); open {
		reasons = append(reasons, fmt.Sprintf("deny window %q is open until %s; imports wait until it closes", w.Cron, closes.Format(time.RFC3339)))
	}
	return reasons
}

// signedUnmodified checks that every signed object in the payload still
// carries its signature and is byte-identical to a version the source tenant
// exported (found in the source folder's history).
func (r *Runner) signedUnmodified(pl *Plan, v view) []string {
	var reasons []string
	for _, it := range pl.Items {
		if it.desired == nil || !spconfig.SignedType(it.Type()) || !slices.Contains(pl.payloadKeys, it.Key) {
			continue
		}
		if !it.desired.Signed() {
			reasons = append(reasons, fmt.Sprintf("signed object %s (%s) has no jwsHeader/jwsSignature; restore it from the source export", it.Object(), it.Path))
			continue
		}
		if !r.exportedBefore(v, it) {
			reasons = append(reasons, fmt.Sprintf("signed object %s (%s) differs from every version %s exported; signed objects must not be edited: restore the file", it.Object(), it.Path, r.Pipeline.Source))
		}
	}
	return reasons
}

// exportedBefore looks for the item's exact bytes in the source folder's
// history (first-parent, bounded; a dry run also looks at its uncommitted
// export) and in the target's observations (a baseline or a rollback
// restores the target's own signed version).
func (r *Runner) exportedBefore(v view, it PlanItem) bool {
	rel := it.Path[len(tenantDir(r.Pipeline.Target)):]
	if data := v.over[tenantDir(r.Pipeline.Source)+rel]; data != nil {
		// a dry run's export, not committed
		if e, err := gitstore.DecodeFile(it.Path, data); err == nil && string(e.Raw) == string(it.desired.Raw) {
			return true
		}
	}
	if r.foundIn(v.rev, tenantDir(r.Pipeline.Source)+rel, it) {
		return true
	}
	obs, err := r.Store.Ref(observedRef(r.Pipeline.Target))
	return err == nil && r.foundIn(obs, it.Path, it)
}

// foundIn reports whether path holds the item's exact entry at h or one of
// its first-parent ancestors (bounded).
func (r *Runner) foundIn(h gitstore.Hash, path string, it PlanItem) bool {
	for range 2000 {
		if h.IsZero() {
			return false
		}
		if data, ok, err := r.Store.ReadFile(h, path); err == nil && ok {
			if e, err := gitstore.DecodeFile(path, data); err == nil && string(e.Raw) == string(it.desired.Raw) {
				return true
			}
		}
		ci, err := r.Store.CommitInfo(h)
		if err != nil || len(ci.Parents) == 0 {
			return false
		}
		h = ci.Parents[0]
	}
	return false
}

// importPlan runs the real import with the previewed bytes, then verify and
// record. rec.Revision is the commit whose target folder is imported.
func (r *Runner) importPlan(ctx context.Context, res *Result, pl *Plan) error {
	prevApplied := hashOf(pl.Applied) // as the plan read it: applied moves with a compare-and-swap from there
	rec := &Record{
		Pipeline: pl.Pipeline, Source: pl.Source, Target: pl.Target, Revision: pl.Revision,
		PreviousApplied: hashOrEmpty(prevApplied), LiveExportJob: pl.LiveJob,
		PayloadSHA256: pl.PayloadSHA256, Types: pl.importedTypes, Started: r.now().UTC(),
	}
	for _, k := range pl.payloadKeys {
		rec.Objects = append(rec.Objects, k.String())
	}
	if pl.Preview != nil {
		rec.PreviewJob, rec.PreviewResults = pl.Preview.JobID, pl.Preview.Results
	}
	for _, k := range pl.hubKeys {
		rec.HubObjects = append(rec.HubObjects, k.String())
	}
	res.Record = rec
	if err := r.importStep(ctx, res, rec, pl); err != nil {
		if len(rec.HubObjects) > 0 {
			return fmt.Errorf("%w; the Configuration Hub deploy of %d object(s) was not attempted", err, len(rec.HubObjects))
		}
		return err
	}
	if len(rec.HubObjects) > 0 && r.Hub == nil {
		return fmt.Errorf("%d object(s) need Configuration Hub but the pipeline has no Configuration Hub client", len(rec.HubObjects))
	}
	if len(rec.HubObjects) > 0 {
		if err := r.hubSteps(ctx, res, rec, pl); err != nil {
			return err
		}
	}
	return r.verifyAndRecord(ctx, res, rec, pl.desired)
}

// importStep runs the SP-Config import of the plan's payload (none when only
// Configuration Hub objects changed).
func (r *Runner) importStep(ctx context.Context, res *Result, rec *Record, pl *Plan) error {
	if len(pl.Payload) == 0 {
		return nil
	}
	return r.step(ctx, res, "import", func() (string, string, error) {
		// A pending marker goes to disk before the import is requested: if it
		// cannot be written, nothing is imported; if the process dies between
		// the request and the answer, the next run stops instead of importing
		// a second time.
		if err := writeInflight(r.Store.Path(), rec); err != nil {
			return "", "", fmt.Errorf("import on %s not started: %w", pl.Target, err)
		}
		job, results, err := r.Target.Import(ctx, pl.Payload, nil, false, r.waitOptions(), func(j spconfig.Job) error {
			rec.ImportJob = j.JobID
			// Written before polling: a crash from here on is resumed, not repeated.
			if err := writeInflight(r.Store.Path(), rec); err != nil {
				return err
			}
			if r.Hooks.ImportStarted != nil {
				r.Hooks.ImportStarted(rec.Pipeline, j.JobID)
			}
			return nil
		})
		rec.ImportStatus, rec.ImportResults = job.Status, results
		if results != nil {
			rec.BackupJob = results.ExportJobID
		}
		var je *spconfig.JobError
		switch {
		case err == nil:
			return "ok", fmt.Sprintf("job %s: %d objects", job.JobID, len(rec.Objects)), nil
		case errors.As(err, &je):
			// A definite end (FAILED, CANCELLED): record what landed; the
			// next run plans afresh.
			return "", "", r.failedImport(ctx, res, rec, je)
		case rec.ImportJob != "":
			// Accepted, but how it ends is unknown (timeout, interrupted, no
			// answer): it may still import. The marker stays so the next run
			// resumes it instead of importing again.
			return "", "", fmt.Errorf("import on %s: job %s was started but did not finish in this run: %w; the next run resumes it and does not import again", pl.Target, rec.ImportJob, err)
		case importRefused(err):
			if cerr := clearInflight(r.Store.Path(), rec.Target); cerr != nil {
				return "", "", fmt.Errorf("import on %s: %w (and %v)", pl.Target, err, cerr)
			}
			return "", "", fmt.Errorf("import on %s: %w", pl.Target, err)
		default:
			return "", "", fmt.Errorf("import on %s: the request's outcome is unknown (%w); the tenant may have started an import: the next run stops until you have checked its import jobs and recorded the one it started with %s, or deleted %s if there is none", pl.Target, err, r.resumeCommand("JOB_ID"), inflightPath(r.Store.Path(), rec.Target))
		}
	})
}

// failedImport records an import job that ended FAILED or CANCELLED. The
// objects its results list as imported did land (a real import halts at the
// first error and keeps what it imported): they are recorded as imported,
// the target is observed as the new drift reference, so the next plan
// offers exactly what is still missing, and applied does not move.
func (r *Runner) failedImport(ctx context.Context, res *Result, rec *Record, je *spconfig.JobError) error {
	results := je.Results
	if results == nil {
		results = rec.ImportResults
	}
	rec.ImportStatus, rec.ImportResults = je.Job.Status, results
	if results != nil && results.ExportJobID != "" {
		rec.BackupJob = results.ExportJobID
	}
	rec.Imported, rec.NotImported = splitImported(rec.Objects, results)
	rec.Errors = importErrors(results)
	backup := "no backup export id in the results"
	if rec.BackupJob != "" {
		backup = "backup export " + rec.BackupJob + " holds the target from before"
	}
	var why []string
	for _, m := range rec.Errors {
		why = append(why, m.Text)
	}
	if len(why) == 0 {
		why = append(why, je.Error())
	}
	if len(rec.Imported) == 0 {
		rec.Verdict = "import-failed"
		err := fmt.Errorf("import on %s: job %s ended %s and imported nothing (%s); %s; fix the errors and run again",
			rec.Target, rec.ImportJob, je.Job.Status, strings.Join(why, "; "), backup)
		rec.Message = err.Error()
		if ferr := r.finishRecord(rec, false); ferr != nil {
			return fmt.Errorf("%w (and recording it failed: %v)", err, ferr)
		}
		return err
	}
	rec.Verdict = "partial"
	res.Outcome = OutcomePartial
	err := fmt.Errorf("import on %s was partial: job %s ended %s after importing %d of %d object(s) (%s); not imported: %s (%s); %s; fix the errors and run again: the next run imports only what is missing",
		rec.Target, rec.ImportJob, je.Job.Status, len(rec.Imported), len(rec.Objects), strings.Join(rec.Imported, ", "),
		strings.Join(rec.NotImported, ", "), strings.Join(why, "; "), backup)
	rec.Message = err.Error()
	// What landed is the target's state now: observe it as the reference,
	// so it is neither drift nor offered again.
	obs, oerr := r.observe(ctx, "verify", false, pipelineTypes(r.Pipeline)...)
	rec.VerifyJob = obs.job
	if oerr == nil {
		rec.Observed = hashOrEmpty(obs.commit)
	}
	if ferr := r.finishRecord(rec, false); ferr != nil {
		return fmt.Errorf("%w (and recording it failed: %v)", err, ferr)
	}
	if oerr != nil {
		return fmt.Errorf("%w (and observing the target afterwards failed: %v; the next plan may show the imported objects as drift)", err, oerr)
	}
	return err
}

var sourceSuffix = regexp.MustCompile(` \[source-[0-9]+\]$`)

// splitImported splits the payload's objects into those the results list
// as imported and the others.
func splitImported(objects []string, results *spconfig.ImportResults) (imported, not []string) {
	landed := map[string]bool{}
	if results != nil {
		for t, res := range results.Results {
			for _, o := range res.ImportedObjects {
				typ := o.Type
				if typ == "" {
					typ = t
				}
				landed[typ+" "+o.Name] = true
				landed[typ+" "+sourceSuffix.ReplaceAllString(o.Name, "")] = true
			}
		}
	}
	for _, o := range objects {
		if landed[o] {
			imported = append(imported, o)
		} else {
			not = append(not, o)
		}
	}
	return imported, not
}

// importErrors lists an import's error messages with their types.
func importErrors(results *spconfig.ImportResults) []TypedMessage {
	if results == nil {
		return nil
	}
	var out []TypedMessage
	for _, t := range sortedKeys(results.Results) {
		for _, m := range results.Results[t].Errors {
			out = append(out, TypedMessage{Type: t, Key: m.Key, Text: m.Text})
		}
	}
	return out
}

// importRefused reports whether the tenant certainly did not start an import:
// it answered the request with a client error, 429 or 503.
func importRefused(err error) bool {
	var apiErr *spconfig.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.StatusCode == 429 || apiErr.StatusCode == 503 || (apiErr.StatusCode >= 400 && apiErr.StatusCode < 500)
}

// verifyAndRecord re-exports the imported objects, compares them with the
// desired state (planned: as the plan read it, when it read rec's
// revision), then advances applied and writes the record.
func (r *Runner) verifyAndRecord(ctx context.Context, res *Result, rec *Record, planned *desiredState) error {
	rev := hashOf(rec.Revision)
	err := r.step(ctx, res, "verify", func() (string, string, error) {
		types := pipelineTypes(r.Pipeline)
		// The whole pipeline scope is re-exported so ids translate through
		// complete indexes, as in the plan; it becomes the drift reference.
		obs, err := r.observe(ctx, "verify", false, types...)
		rec.VerifyJob = obs.job
		if err != nil {
			return "", "", err
		}
		rec.Observed = hashOrEmpty(obs.commit)
		desired, err := r.desiredAt(rev, types, planned)
		if err != nil {
			return "", "", err
		}
		names := map[string]bool{}
		for _, o := range append(slices.Clone(rec.Objects), rec.HubObjects...) {
			names[o] = true
		}
		imported := map[spconfig.Key]bool{} // the desired objects the import sent
		for _, f := range desired.folder.files {
			if k := f.Entry.Key(); names[k.String()] {
				imported[k] = true
			}
		}
		d, err := r.compareFiles(obs.files(), desired.folder.files, diff.Options{CrossTenant: true, SharedNew: desired.index,
			Restrict: func(k spconfig.Key) bool { return imported[k] }})
		if err != nil {
			return "", "", err
		}
		differs := changedKeys(d)
		var bad []string
		for _, f := range desired.folder.files {
			k := f.Entry.Key()
			if !imported[k] {
				continue
			}
			if !obs.live.has(k) {
				bad = append(bad, k.String()+" is missing in the target after the import")
			} else if differs[k] {
				bad = append(bad, k.String()+" ("+f.Path+") differs from the desired state after the import")
			}
		}
		slices.Sort(bad)
		if len(bad) > 0 {
			rec.Verdict, rec.Message = "verify-failed", fmt.Sprint(bad)
			r.finishRecord(rec, false)
			return "", "", fmt.Errorf("target %s does not match the desired state after import job %s: %v; check the tenant and run apply again", rec.Target, rec.ImportJob, bad)
		}
		return "ok", fmt.Sprintf("%d objects match", len(rec.Objects)), nil
	})
	if err != nil {
		return err
	}
	return r.step(ctx, res, "record", func() (string, string, error) {
		rec.Verdict = "imported"
		if err := r.finishRecord(rec, true); err != nil {
			return "", "", err
		}
		return "ok", "applied " + short(rev), nil
	})
}

// desiredAt is the desired state at rev: planned when it is rev's, else
// read.
func (r *Runner) desiredAt(rev gitstore.Hash, types []string, planned *desiredState) (*desiredState, error) {
	if planned != nil && planned.rev == rev {
		return planned, nil
	}
	ds, _, err := r.readDesired(commitView(rev), types)
	return ds, err
}

// finishRecord writes the record as a git note on the imported revision,
// advances the applied ref when the import succeeded, and clears the in-flight
// marker.
func (r *Runner) finishRecord(rec *Record, success bool) error {
	rec.Finished = r.now().UTC()
	rev := hashOf(rec.Revision)
	var all []Record
	if old, ok, err := r.Store.Note(rev); err == nil && ok {
		_ = json.Unmarshal(old, &all) // a foreign note is replaced by our list
	}
	// A run killed after writing the note but before moving applied left
	// this import's record already; the resumed run writes it once.
	all = slices.DeleteFunc(all, func(o Record) bool {
		return rec.ImportJob != "" && o.ImportJob == rec.ImportJob && o.Verdict == rec.Verdict
	})
	all = append(all, *rec)
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := r.Store.SetNote(rev, append(data, '\n')); err != nil {
		return fmt.Errorf("write import record for %s: %w", short(rev), err)
	}
	if success {
		// A compare-and-swap against the value the plan read: another
		// process that recorded an import meanwhile is not overwritten.
		old := hashOf(rec.PreviousApplied)
		if err := r.Store.SetRef(appliedRef(rec.Target), rev, old); err != nil {
			cur, _ := r.Store.Ref(appliedRef(rec.Target))
			if cur == rev {
				// a run killed after it moved the ref: nothing left to move
				return clearInflight(r.Store.Path(), rec.Target)
			}
			// The import is recorded (the note): no marker stays behind to
			// resume it again.
			if cerr := clearInflight(r.Store.Path(), rec.Target); cerr != nil {
				return fmt.Errorf("advance %s: %w (and %v)", appliedRef(rec.Target), err, cerr)
			}
			if cur == old {
				// It did not move: the update itself failed (a git
				// command holding the ref's lock, a full disk).
				return fmt.Errorf("advance %s from %s to %s: %w; the import record is on %s; fix the cause and run promoter apply again",
					appliedRef(rec.Target), short(old), short(rev), err, short(rev))
			}
			return fmt.Errorf("advance %s: it moved from %s to %s while this run imported %s (another promoter process or a person); the import record is on %s; run promoter apply again to plan against the new state: %w",
				appliedRef(rec.Target), short(old), short(cur), short(rev), short(rev), err)
		}
	}
	return clearInflight(r.Store.Path(), rec.Target)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func hashOrEmpty(h gitstore.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}
