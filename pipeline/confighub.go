package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"promoter/spconfig"
)

// Configuration Hub (DESIGN section 5, deploy.configurationHub): the changed
// objects of the 18 types SP-Config cannot import are uploaded as one
// configuration file, drafted, gated beside the SP-Config preview, deployed
// after the import, verified and recorded with it. The upload is deleted
// once it served (a tenant holds at most 10); promoter never deletes an
// upload it did not create.

// ConfigHub is the Configuration Hub API of a target tenant
// (spconfig.Client).
type ConfigHub interface {
	// UploadBackup uploads doc as a configuration file and waits until it is
	// COMPLETE; started sees the accepted upload (its id) before polling.
	UploadBackup(ctx context.Context, doc []byte, name string, o spconfig.WaitOptions, started func(spconfig.Upload) error) (spconfig.Upload, error)
	// CreateDraft creates a draft from an uploaded backup and waits until it
	// is COMPLETE (a FAILED draft is a *spconfig.JobError with the message).
	CreateDraft(ctx context.Context, backupID string, o spconfig.WaitOptions) (spconfig.Draft, error)
	// WaitDraftApproval waits while a draft is PENDING_APPROVAL (DENIED is
	// a *spconfig.ApprovalError, still pending at the timeout a
	// *spconfig.TimeoutError).
	WaitDraftApproval(ctx context.Context, id string, o spconfig.WaitOptions) (spconfig.Draft, error)
	// Deploy deploys a draft and waits until the deploy is done; started
	// sees the accepted deploy before polling.
	Deploy(ctx context.Context, draftID string, o spconfig.WaitOptions, started func(spconfig.Deploy) error) (spconfig.Deploy, error)
	// DeleteUpload deletes an upload.
	DeleteUpload(ctx context.Context, id string) error
	// DeleteDraft deletes a draft.
	DeleteDraft(ctx context.Context, id string) error
}

// HubReport is the Configuration Hub side of a plan: the upload and the
// draft made from it (the hub's preview).
type HubReport struct {
	UploadID       string `json:"uploadId,omitempty"`
	DraftID        string `json:"draftId,omitempty"`
	DraftStatus    string `json:"draftStatus,omitempty"`
	ApprovalStatus string `json:"approvalStatus,omitempty"`
	Message        string `json:"message,omitempty"`
	// Problem is why the draft cannot be deployed (failed, denied, still
	// pending); empty when it can.
	Problem string `json:"problem,omitempty"`
}

// hubDraft uploads the plan's Configuration Hub document and creates its
// draft, waiting (bounded by jobTimeout) while it is pending approval.
func (r *Runner) hubDraft(ctx context.Context, pl *Plan) error {
	rep := &HubReport{}
	pl.Hub = rep
	o := r.waitOptions()
	doc, err := r.hubDocument(ctx, pl)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("promoter %s %s", r.Pipeline.Name, shortStr(pl.Revision))
	up, err := r.Hub.UploadBackup(ctx, doc, name, o, func(u spconfig.Upload) error {
		rep.UploadID = u.JobID
		return nil
	})
	if rep.UploadID == "" {
		rep.UploadID = up.JobID
	}
	var je *spconfig.JobError
	switch {
	case errors.As(err, &je):
		rep.Problem = fmt.Sprintf("Configuration Hub upload %s ended %s: %s", rep.UploadID, je.Job.Status, je.Error())
		return nil
	case err != nil:
		return fmt.Errorf("upload to Configuration Hub of %s: %w", r.Pipeline.Target, err)
	}
	d, err := r.Hub.CreateDraft(ctx, rep.UploadID, o)
	rep.DraftID, rep.DraftStatus, rep.ApprovalStatus, rep.Message = d.JobID, d.Status, d.ApprovalStatus, d.Message
	switch {
	case errors.As(err, &je):
		rep.Problem = fmt.Sprintf("Configuration Hub draft %s ended %s: %s", rep.DraftID, je.Job.Status, firstNonEmpty(d.Message, je.Error()))
		return nil
	case err != nil:
		return fmt.Errorf("create a Configuration Hub draft on %s: %w", r.Pipeline.Target, err)
	}
	if d.ApprovalStatus == spconfig.ApprovalPending {
		r.log().Info("Configuration Hub draft is pending approval; waiting", "pipeline", r.Pipeline.Name, "draft", d.JobID, "timeout", o.Timeout)
		d, err = r.Hub.WaitDraftApproval(ctx, d.JobID, o)
		rep.ApprovalStatus = firstNonEmpty(d.ApprovalStatus, rep.ApprovalStatus)
		var ae *spconfig.ApprovalError
		var te *spconfig.TimeoutError
		switch {
		case errors.As(err, &ae):
			rep.Problem = "Configuration Hub draft " + rep.DraftID + " was denied: " + ae.Error()
		case errors.As(err, &te):
			rep.Problem = fmt.Sprintf("Configuration Hub draft %s is still pending approval after %s (jobTimeout); approve it and run again", rep.DraftID, o.Timeout)
		case err != nil:
			return fmt.Errorf("wait for the approval of Configuration Hub draft %s: %w", rep.DraftID, err)
		}
	}
	return nil
}

// idToken matches a quoted 32-hex or UUID id in JSON.
var idToken = regexp.MustCompile(`"([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"`)

// hubDocument is the upload document of the plan's Configuration Hub
// objects with the source tenants' bare ids (an approver's id, a list of
// source ids) replaced by the target's ids of the same objects, read from
// the target as it is now (after the SP-Config import, which may have
// created them). SP-Config resolves {type, id, name} references by name;
// Configuration Hub would need an object mapping per id. An id the target
// has no counterpart for stays as it is.
func (r *Runner) hubDocument(ctx context.Context, pl *Plan) ([]byte, error) {
	obs, err := r.observe(ctx, "configuration-hub", false)
	if err != nil {
		return nil, err
	}
	src, err := r.sourceIndex(commitView(hashOf(pl.Revision)))
	if err != nil {
		return nil, err
	}
	// An id names the object whose object.id it is; a self.id only when no
	// object claims it (an ATTR_SYNC_SOURCE_CONFIG's self.id is its source's).
	keyOf := map[string]spconfig.Key{}
	for _, e := range src {
		if id := objectID(*e); id != "" {
			keyOf[id] = e.Key()
		}
	}
	for _, e := range src {
		if e.Self.ID != "" {
			if _, taken := keyOf[e.Self.ID]; !taken {
				keyOf[e.Self.ID] = e.Key()
			}
		}
	}
	idOf := map[spconfig.Key]string{}
	for _, f := range obs.live.files {
		k := f.Entry.Key()
		if id := firstNonEmpty(objectID(*f.Entry), f.Entry.Self.ID); id != "" {
			idOf[k] = id
		}
	}
	out := make([]spconfig.Entry, 0, len(pl.hubEntries))
	for _, e := range pl.hubEntries {
		obj := idToken.ReplaceAllFunc(e.Object(), func(m []byte) []byte {
			if k, ok := keyOf[string(m[1:len(m)-1])]; ok {
				if id, ok := idOf[k]; ok {
					return []byte(`"` + id + `"`)
				}
			}
			return m
		})
		ne, err := e.WithObject(obj)
		if err != nil {
			return nil, fmt.Errorf("translate the ids of %s for Configuration Hub: %w", e.Key(), err)
		}
		out = append(out, ne)
	}
	doc, _, _ := document(r.Pipeline.Name+" Configuration Hub", hashOf(pl.Revision), out)
	return doc, nil
}

// objectID is an entry's top-level object.id ("" when it has none).
func objectID(e spconfig.Entry) string { return e.IDClaims().Object }

// hubSteps runs the Configuration Hub side of an import, after the
// SP-Config import (so a draft resolves references to objects that import
// created): upload and draft (the hub's preview), the hub's gate (draft
// COMPLETE, approval not denied or still pending), deploy. When the hub's
// gate blocks, nothing is deployed; the SP-Config import, if any, is
// verified and recorded as usual and the flow is blocked (exit 3).
func (r *Runner) hubSteps(ctx context.Context, res *Result, rec *Record, pl *Plan) error {
	err := r.step(ctx, res, "draft", func() (string, string, error) {
		if err := r.hubDraft(ctx, pl); err != nil {
			return "", "", err
		}
		rec.HubUpload, rec.HubDraft = pl.Hub.UploadID, pl.Hub.DraftID
		if pl.Hub.Problem != "" {
			return "failed", pl.Hub.Problem, nil
		}
		return "complete", fmt.Sprintf("upload %s, draft %s (approval %s): %d object(s)", pl.Hub.UploadID, pl.Hub.DraftID, firstNonEmpty(pl.Hub.ApprovalStatus, "none"), pl.HubCount()), nil
	})
	if err != nil {
		r.hubCleanup(ctx, pl, false)
		return err
	}
	if pl.Hub.Problem != "" {
		return r.hubBlocked(ctx, res, rec, pl)
	}
	err = r.step(ctx, res, "deploy", func() (string, string, error) {
		if err := r.hubDeploy(ctx, rec, pl); err != nil {
			rec.Verdict, rec.Message = "deploy-failed", err.Error()
			if len(rec.Objects) > 0 {
				rec.Message += fmt.Sprintf("; the SP-Config import of %d object(s) (job %s) had succeeded", len(rec.Objects), rec.ImportJob)
			}
			if ferr := r.finishRecord(rec, false); ferr != nil {
				return "", "", fmt.Errorf("%s (and recording it failed: %v)", rec.Message, ferr)
			}
			return "", "", errors.New(rec.Message)
		}
		return "ok", fmt.Sprintf("deploy %s of draft %s: %d object(s)", rec.HubDeploy, rec.HubDraft, len(rec.HubObjects)), nil
	})
	r.hubCleanup(ctx, pl, err == nil)
	return err
}

// hubBlocked ends a flow whose Configuration Hub draft cannot be deployed:
// nothing is deployed, the SP-Config import (if any) is verified and
// recorded, and the flow is blocked naming the draft's problem.
func (r *Runner) hubBlocked(ctx context.Context, res *Result, rec *Record, pl *Plan) error {
	r.hubCleanup(ctx, pl, false)
	rec.HubStatus = "blocked: " + pl.Hub.Problem
	notDeployed := rec.HubObjects
	rec.HubObjects = nil
	reason := pl.Hub.Problem + "; nothing was deployed through Configuration Hub (" + strings.Join(notDeployed, ", ") + ")"
	if len(rec.Objects) > 0 {
		reason += fmt.Sprintf("; the SP-Config import of %d object(s) went ahead and is recorded", len(rec.Objects))
	}
	pl.Blocked, pl.Verdict = append(pl.Blocked, reason), string(OutcomeBlocked)
	if len(rec.Objects) == 0 {
		rec.Verdict, rec.Message = "blocked", reason
		if err := r.finishRecord(rec, false); err != nil {
			return err
		}
	} else if err := r.verifyAndRecord(ctx, res, rec, pl.desired); err != nil {
		return err
	}
	return &BlockedError{Pipeline: r.Pipeline.Name, Reasons: []string{reason}}
}

// hubDeploy deploys the plan's draft.
func (r *Runner) hubDeploy(ctx context.Context, rec *Record, pl *Plan) error {
	d, err := r.Hub.Deploy(ctx, pl.Hub.DraftID, r.waitOptions(), func(d spconfig.Deploy) error {
		rec.HubDeploy = d.JobID
		return nil
	})
	if rec.HubDeploy == "" {
		rec.HubDeploy = d.JobID
	}
	rec.HubStatus = d.Status
	if err != nil {
		return fmt.Errorf("deploy %s of Configuration Hub draft %s on %s: %w", rec.HubDeploy, pl.Hub.DraftID, pl.Target, err)
	}
	return nil
}

// hubCleanup deletes the upload promoter made (and, when nothing was
// deployed, its draft). A failure is logged: it never changes the outcome.
func (r *Runner) hubCleanup(ctx context.Context, pl *Plan, deployed bool) {
	if r.Hub == nil || pl.Hub == nil {
		return
	}
	if !deployed && pl.Hub.DraftID != "" {
		if err := r.Hub.DeleteDraft(ctx, pl.Hub.DraftID); err != nil {
			r.log().Warn("could not delete the Configuration Hub draft promoter made", "draft", pl.Hub.DraftID, "err", err)
		}
	}
	if pl.Hub.UploadID != "" {
		if err := r.Hub.DeleteUpload(ctx, pl.Hub.UploadID); err != nil {
			r.log().Warn("could not delete the Configuration Hub upload promoter made (a tenant holds at most 10)", "upload", pl.Hub.UploadID, "err", err)
		}
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}
