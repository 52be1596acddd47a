package spconfig

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Draft approval statuses (DraftResponse.approvalStatus).
const (
	ApprovalDefault  = "DEFAULT"
	ApprovalPending  = "PENDING_APPROVAL"
	ApprovalApproved = "APPROVED"
	ApprovalDenied   = "DENIED"
)

// ApprovalComment is one comment of a draft's approval history.
type ApprovalComment struct {
	Comment         string `json:"comment"`
	Timestamp       Time   `json:"timestamp"`
	User            string `json:"user"`
	ID              string `json:"id"`
	ChangedToStatus string `json:"changedToStatus"` // PENDING_APPROVAL, APPROVED or REJECTED
}

// Draft is a Configuration Hub draft (DraftResponse): the objects of a
// backup or upload prepared for this tenant. Message is the server's account
// of its creation; a FAILED draft's message says what did not resolve.
type Draft struct {
	HubJob
	Name             string            `json:"name"`
	SourceTenant     string            `json:"sourceTenant"`
	SourceBackupID   string            `json:"sourceBackupId"`
	SourceBackupName string            `json:"sourceBackupName"`
	Mode             string            `json:"mode"`
	ApprovalStatus   string            `json:"approvalStatus"`
	ApprovalComment  []ApprovalComment `json:"approvalComment"`
}

// Drafts lists the tenant's drafts (GET /configuration-hub/drafts, no
// filter: the API filters only by status and approvalStatus).
func (c *Client) Drafts(ctx context.Context) ([]Draft, error) {
	var out []Draft
	err := c.getJSON(ctx, opListDrafts, "/drafts", &out)
	return out, err
}

// DraftsOf lists the drafts made from backup or upload backupID, oldest
// first. The API cannot filter by sourceBackupId, so it lists all drafts and
// keeps those.
func (c *Client) DraftsOf(ctx context.Context, backupID string) ([]Draft, error) {
	ds, err := c.Drafts(ctx)
	if err != nil {
		return nil, err
	}
	var out []Draft
	for _, d := range ds {
		if d.SourceBackupID == backupID {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b Draft) int { return a.Created.Compare(b.Created.Time) })
	return out, nil
}

// Draft returns draft id. The API has no GET by id, so it lists the drafts;
// an id not among them is an error wrapping ErrNotFound.
func (c *Client) Draft(ctx context.Context, id string) (Draft, error) {
	if err := checkID(opListDrafts, id); err != nil {
		return Draft{}, err
	}
	ds, err := c.Drafts(ctx)
	if err != nil {
		return Draft{}, err
	}
	for _, d := range ds {
		if d.JobID == id {
			return d, nil
		}
	}
	return Draft{}, fmt.Errorf("spconfig %s: draft %s: %w (deleted, or made in another tenant)", opListDrafts, id, ErrNotFound)
}

// DeleteDraft deletes draft id (DELETE /configuration-hub/drafts/{id}).
func (c *Client) DeleteDraft(ctx context.Context, id string) error {
	if err := checkID(opDeleteDraft, id); err != nil {
		return err
	}
	return c.hubDelete(ctx, opDeleteDraft, "/drafts/"+url.PathEscape(id))
}

// CreateDraft makes a draft of upload backupID and waits until the draft is
// done: it creates a CREATE_DRAFT scheduled action starting now, polls the
// drafts for the new one whose sourceBackupId is backupID (drafts that
// existed before are ignored), and then deletes the scheduled action
// (also when the wait fails, so no draft appears later unseen; an action
// already gone is fine). A COMPLETE draft returns with nil error; FAILED or
// CANCELLED return it with a *JobError carrying the server's message (e.g.
// the reference that did not resolve); the timeout a *TimeoutError whose
// JobID is the upload's. The draft's approvalStatus is not waited for: see
// WaitDraftApproval.
func (c *Client) CreateDraft(ctx context.Context, backupID string, o WaitOptions) (Draft, error) {
	if err := checkID(opCreateAction, backupID); err != nil {
		return Draft{}, err
	}
	up, err := c.UploadStatus(ctx, backupID)
	if err != nil {
		return Draft{}, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	if up.Status != StatusComplete {
		return Draft{}, fmt.Errorf("create draft of upload %s: the upload is %s: wait until it is COMPLETE", backupID, up.Status)
	}
	before, err := c.DraftsOf(ctx, backupID)
	if err != nil {
		return Draft{}, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	seen := map[string]bool{}
	for _, d := range before {
		seen[d.JobID] = true
	}
	start := Time{c.now().UTC()}
	action, err := c.CreateScheduledAction(ctx, ScheduledActionPayload{
		JobType: "CREATE_DRAFT", StartTime: &start,
		Content: ScheduledActionContent{Name: draftName(up.Name), SourceBackupID: backupID, SourceTenant: up.Tenant},
	})
	if err != nil {
		return Draft{}, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	c.log.Info("spconfig draft scheduled", "upload", backupID, "scheduledAction", action.ID)
	var last Draft
	_, err = c.wait(ctx, JobDraft, backupID, o, func(ctx context.Context, _ string) (Job, error) {
		ds, err := c.DraftsOf(ctx, backupID)
		if err != nil {
			return Job{}, err
		}
		for _, d := range ds {
			if !seen[d.JobID] {
				last = d
				return d.job(JobDraft), nil
			}
		}
		return Job{JobID: backupID, Status: StatusNotStarted, Type: JobDraft}, nil
	})
	c.deleteActionQuietly(ctx, action.ID)
	if err != nil {
		return last, fmt.Errorf("create draft of upload %s: %w", backupID, err)
	}
	return last, nil
}

// deleteActionQuietly deletes a scheduled action promoter created, even
// when ctx has ended, and logs a failure instead of returning it: the draft
// is what the caller asked for. A 404 (already gone) is fine.
func (c *Client) deleteActionQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := c.DeleteScheduledAction(ctx, id)
	var ae *APIError
	if err != nil && !(errors.As(err, &ae) && ae.NotFound()) {
		c.log.Warn("spconfig scheduled action not deleted: delete it in Configuration Hub", "scheduledAction", id, "err", err.Error())
	}
}

// draftName is the scheduled action's (and so the draft's) name: at most 50
// characters.
func draftName(upload string) string {
	name := "promoter: " + upload
	if r := []rune(name); len(r) > 50 {
		name = string(r[:50])
	}
	return name
}

// ApprovalError is a draft whose approval was denied.
type ApprovalError struct {
	Draft Draft
}

func (e *ApprovalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "draft %s (%s) was denied", e.Draft.JobID, e.Draft.Name)
	if n := len(e.Draft.ApprovalComment); n > 0 {
		c := e.Draft.ApprovalComment[n-1]
		fmt.Fprintf(&b, " by %s", c.User)
		if t := strings.TrimSpace(c.Comment); t != "" {
			b.WriteString(": " + snippet(t, 300))
		}
	}
	b.WriteString(": it cannot be deployed; create a new draft once the reason is addressed")
	return b.String()
}

// WaitDraftApproval polls draft id while its approvalStatus is
// PENDING_APPROVAL. DEFAULT or APPROVED return the draft with nil error;
// DENIED an *ApprovalError; the timeout a *TimeoutError (Type
// JobDraftApproval) while it is still pending.
func (c *Client) WaitDraftApproval(ctx context.Context, id string, o WaitOptions) (Draft, error) {
	var last Draft
	_, err := c.wait(ctx, JobDraftApproval, id, o, func(ctx context.Context, id string) (Job, error) {
		d, err := c.Draft(ctx, id)
		if err != nil {
			return Job{}, err
		}
		last = d
		j := d.job(JobDraft)
		j.Type, j.Status = JobDraftApproval, StatusComplete
		if d.ApprovalStatus == ApprovalPending {
			j.Status = ApprovalPending
		}
		return j, nil
	})
	if err != nil {
		return last, err
	}
	if last.ApprovalStatus == ApprovalDenied {
		return last, &ApprovalError{Draft: last}
	}
	return last, nil
}
