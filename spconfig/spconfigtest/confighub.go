package spconfigtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"promoter/spconfig"
)

// Configuration Hub: uploads, scheduled actions, drafts and deploys, kept
// beside the SP-Config jobs and moved on by the same clock (advanceLocked).
// The package doc lists the choices the spec does not settle.

// maxUploads is how many uploaded configurations a tenant keeps; SailPoint's
// guide: "You can upload up to 10 configuration files".
const maxUploads = 10

// Job types and modes as Configuration Hub reports them.
const (
	hubTypeBackup    = "BACKUP"
	hubTypeDraft     = "CREATE_DRAFT"
	hubTypeDeploy    = "CONFIG_DEPLOY_DRAFT"
	backupUploaded   = "UPLOADED"
	modeUpload       = "UPLOAD"
	approvalDefault  = "DEFAULT"
	approvalPending  = "PENDING_APPROVAL"
	approvalApproved = "APPROVED"
	approvalDenied   = "DENIED"
)

// doneStatus reports whether a job status is terminal.
func doneStatus(s string) bool {
	return s == spconfig.StatusComplete || s == spconfig.StatusFailed || s == spconfig.StatusCancelled
}

// hubJob is what uploads, drafts and deploys share: a job of the hub with
// its id, status, requester, times and data (the state file's fields).
type hubJob struct {
	ID        string          `json:"jobId"`
	Status    string          `json:"status"`
	Message   string          `json:"message,omitempty"`
	Requester string          `json:"requesterName"`
	Created   time.Time       `json:"created"`
	Modified  time.Time       `json:"modified"`
	Completed time.Time       `json:"completed"`
	Due       time.Time       `json:"due"`
	Fail      bool            `json:"fail,omitempty"`
	Data      json.RawMessage `json:"data"`
}

func (j *hubJob) done() bool    { return doneStatus(j.Status) }
func (j *hubJob) hubID() string { return j.ID }

// hubItem is anything the hub keeps by id.
type hubItem interface{ hubID() string }

// byID returns the item of items whose id is id, or nil.
func byID[T hubItem](items []T, id string) T {
	for _, it := range items {
		if it.hubID() == id {
			return it
		}
	}
	var none T
	return none
}

// serveDeleteByID removes the item whose id is id from *items (204), or
// answers 404 with missing.
func serveDeleteByID[T hubItem](t *Tenant, w http.ResponseWriter, items *[]T, id, missing string) {
	t.mu.Lock()
	i := slices.IndexFunc(*items, func(it T) bool { return it.hubID() == id })
	if i >= 0 {
		*items = slices.Delete(*items, i, i+1)
		t.saveOrLog()
	}
	t.mu.Unlock()
	if i < 0 {
		t.notFound(w, missing)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hubState is the tenant's Configuration Hub, as the state file keeps it.
type hubState struct {
	Uploads []*hubUpload `json:"uploads"`
	Actions []*hubAction `json:"scheduledActions"`
	Drafts  []*hubDraft  `json:"drafts"`
	Deploys []*hubDeploy `json:"deploys"`
}

// progress moves one hub job on: NOT_STARTED becomes IN_PROGRESS once time
// passes, and the job runs when its delay is over. It reports whether the
// job changed and whether it is due to run now.
func progress(status *string, modified *time.Time, created, due, now time.Time) (changed, run bool) {
	if doneStatus(*status) {
		return false, false
	}
	if now.Before(due) {
		if *status == spconfig.StatusNotStarted && now.After(created) {
			*status, *modified = spconfig.StatusInProgress, now
			return true, false
		}
		return false, false
	}
	return true, true
}

// advanceHubLocked moves uploads, scheduled actions, drafts and deploys on by
// the clock, in that order, so an action that fires creates its draft and a
// zero job delay completes it within the same request. It reports whether
// anything changed.
func (t *Tenant) advanceHubLocked(now time.Time) bool {
	changed := false
	for _, u := range t.hub.Uploads {
		ch, run := progress(&u.Status, &u.Modified, u.Created, u.Due, now)
		changed = changed || ch
		if run {
			u.Modified, u.Completed, u.Status = now, now, spconfig.StatusComplete
			if u.Fail {
				u.Status = spconfig.StatusFailed
			}
		}
	}
	for _, a := range t.hub.Actions {
		if a.Fired || now.Before(a.StartTime) {
			continue
		}
		a.Fired, changed = true, true
		// The action ran at its start time, not at this request.
		at := a.StartTime
		if at.Before(a.Created) {
			at = a.Created
		}
		t.fireActionLocked(a, at)
	}
	for _, d := range t.hub.Drafts {
		ch, run := progress(&d.Status, &d.Modified, d.Created, d.Due, now)
		changed = changed || ch
		if run {
			t.runDraftLocked(d, now)
		}
	}
	for _, d := range t.hub.Deploys {
		ch, run := progress(&d.Status, &d.Modified, d.Created, d.Due, now)
		changed = changed || ch
		if run {
			t.runDeployLocked(d, now)
		}
	}
	return changed
}

// HubJob is one Configuration Hub upload, draft or deploy as the admin API
// lists it (GET /_fake/configuration-hub).
type HubJob struct {
	JobID          string    `json:"jobId"`
	Type           string    `json:"type"` // BACKUP (an upload), CREATE_DRAFT or CONFIG_DEPLOY_DRAFT
	Status         string    `json:"status"`
	Name           string    `json:"name,omitempty"`
	Message        string    `json:"message,omitempty"`
	SourceBackupID string    `json:"sourceBackupId,omitempty"`
	ApprovalStatus string    `json:"approvalStatus,omitempty"`
	DraftID        string    `json:"draftId,omitempty"`
	Created        time.Time `json:"created"`
}

// HubInfo is the tenant's Configuration Hub as the admin API lists it.
type HubInfo struct {
	Uploads          []HubJob         `json:"uploads"`
	ScheduledActions []map[string]any `json:"scheduledActions"`
	Drafts           []HubJob         `json:"drafts"`
	Deploys          []HubJob         `json:"deploys"`
}

// ConfigurationHub lists the tenant's uploads, scheduled actions, drafts and
// deploys in creation order, after moving due jobs on.
func (t *Tenant) ConfigurationHub() HubInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked()
	info := HubInfo{Uploads: []HubJob{}, ScheduledActions: []map[string]any{}, Drafts: []HubJob{}, Deploys: []HubJob{}}
	for _, u := range t.hub.Uploads {
		info.Uploads = append(info.Uploads, HubJob{JobID: u.ID, Type: hubTypeBackup, Status: u.Status, Name: u.Name, Created: u.Created})
	}
	for _, a := range t.hub.Actions {
		info.ScheduledActions = append(info.ScheduledActions, actionJSON(a))
	}
	for _, d := range t.hub.Drafts {
		info.Drafts = append(info.Drafts, HubJob{JobID: d.ID, Type: hubTypeDraft, Status: d.Status, Name: d.Name, Message: d.Message,
			SourceBackupID: d.SourceBackupID, ApprovalStatus: d.Approval, Created: d.Created})
	}
	for _, d := range t.hub.Deploys {
		info.Deploys = append(info.Deploys, HubJob{JobID: d.ID, Type: hubTypeDeploy, Status: d.Status, Name: d.DraftName, Message: d.Message,
			DraftID: d.DraftID, Created: d.Created})
	}
	return info
}

// cancelHubLocked cancels the upload, draft or deploy with id, like
// CancelJob; ok is false when no such job exists.
func (t *Tenant) cancelHubLocked(id string) (info JobInfo, ok bool, err error) {
	now := t.opts.Now()
	cancel := func(typ string, status, message *string, modified, completed *time.Time, created time.Time) (JobInfo, bool, error) {
		if doneStatus(*status) {
			return JobInfo{}, true, fmt.Errorf("cancel job %s: it is already %s", id, *status)
		}
		*status, *modified, *completed = spconfig.StatusCancelled, now, now
		if message != nil {
			*message = msgCancelled
		}
		t.saveOrLog()
		return JobInfo{JobID: id, Type: typ, Status: *status, Created: created}, true, nil
	}
	if u := t.findUploadLocked(id); u != nil {
		return cancel(hubTypeBackup, &u.Status, nil, &u.Modified, &u.Completed, u.Created)
	}
	if d := t.findDraftLocked(id); d != nil {
		return cancel(hubTypeDraft, &d.Status, &d.Message, &d.Modified, &d.Completed, d.Created)
	}
	if d := t.findDeployLocked(id); d != nil {
		return cancel(hubTypeDeploy, &d.Status, &d.Message, &d.Modified, &d.Completed, d.Created)
	}
	return JobInfo{}, false, nil
}
