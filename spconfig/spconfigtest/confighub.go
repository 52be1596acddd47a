package spconfigtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
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

// hubUpload is an uploaded configuration (BackupResponse, backupType UPLOADED).
type hubUpload struct {
	ID        string          `json:"jobId"`
	Name      string          `json:"name"`
	Status    string          `json:"status"`
	Requester string          `json:"requesterName"`
	Objects   int             `json:"totalObjectCount"`
	Created   time.Time       `json:"created"`
	Modified  time.Time       `json:"modified"`
	Completed time.Time       `json:"completed"`
	Due       time.Time       `json:"due"`
	Fail      bool            `json:"fail,omitempty"`
	Data      json.RawMessage `json:"data"`
}

func (u *hubUpload) done() bool { return doneStatus(u.Status) }

// hubAction is a scheduled action (ScheduledActionResponse).
type hubAction struct {
	ID         string          `json:"id"`
	JobType    string          `json:"jobType"`
	Content    json.RawMessage `json:"content"`
	StartTime  time.Time       `json:"startTime"`
	CronString string          `json:"cronString,omitempty"`
	TimeZoneID string          `json:"timeZoneId,omitempty"`
	Created    time.Time       `json:"created"`
	Requester  string          `json:"requesterName"`
	Fired      bool            `json:"fired,omitempty"`
}

// actionContent is the part of a scheduled action's content the fake acts on.
type actionContent struct {
	Name           string          `json:"name"`
	BackupOptions  json.RawMessage `json:"backupOptions,omitempty"`
	SourceBackupID string          `json:"sourceBackupId,omitempty"`
	SourceTenant   string          `json:"sourceTenant,omitempty"`
	DraftID        string          `json:"draftId,omitempty"`
}

// approvalComment is one ApprovalComment of a draft.
type approvalComment struct {
	Comment         string `json:"comment"`
	Timestamp       string `json:"timestamp"`
	User            string `json:"user"`
	ID              string `json:"id"`
	ChangedToStatus string `json:"changedToStatus"`
}

// hubDraft is a draft (DraftResponse) with its own copy of the uploaded
// document, so deleting the upload leaves it deployable.
type hubDraft struct {
	ID               string            `json:"jobId"`
	Name             string            `json:"name"`
	Status           string            `json:"status"`
	Message          string            `json:"message,omitempty"`
	Requester        string            `json:"requesterName"`
	SourceTenant     string            `json:"sourceTenant"`
	SourceBackupID   string            `json:"sourceBackupId"`
	SourceBackupName string            `json:"sourceBackupName"`
	Approval         string            `json:"approvalStatus"`
	Comments         []approvalComment `json:"approvalComment"`
	Created          time.Time         `json:"created"`
	Modified         time.Time         `json:"modified"`
	Completed        time.Time         `json:"completed"`
	Due              time.Time         `json:"due"`
	Data             json.RawMessage   `json:"data"`
}

func (d *hubDraft) done() bool { return doneStatus(d.Status) }

// hubDeploy is a deploy (DeployResponse).
type hubDeploy struct {
	ID        string          `json:"jobId"`
	DraftID   string          `json:"draftId"`
	DraftName string          `json:"draftName"`
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

func (d *hubDeploy) done() bool { return doneStatus(d.Status) }

func doneStatus(s string) bool {
	return s == spconfig.StatusComplete || s == spconfig.StatusFailed || s == spconfig.StatusCancelled
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
		t.fireActionLocked(a, now)
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

// fireActionLocked runs a scheduled action whose start time came: CREATE_DRAFT
// queues a draft of its upload, CONFIG_DEPLOY_DRAFT a deploy of its draft
// (when the draft can be deployed then); BACKUP actions are kept but never
// run (the fake has no Configuration Hub backups).
func (t *Tenant) fireActionLocked(a *hubAction, now time.Time) {
	var c actionContent
	_ = json.Unmarshal(a.Content, &c) // checked when the action was created
	switch a.JobType {
	case hubTypeDraft:
		d := &hubDraft{
			ID: t.newJobIDLocked(), Name: c.Name, Status: spconfig.StatusNotStarted, Requester: a.Requester,
			SourceTenant: c.SourceTenant, SourceBackupID: c.SourceBackupID, Approval: approvalDefault,
			Comments: []approvalComment{}, Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
		}
		if u := t.findUploadLocked(c.SourceBackupID); u != nil {
			d.SourceBackupName, d.Data = u.Name, bytes.Clone(u.Data)
		}
		t.hub.Drafts = append(t.hub.Drafts, d)
	case hubTypeDeploy:
		if d := t.findDraftLocked(c.DraftID); d != nil && deployRefusal(d) == "" {
			t.startDeployLocked(d, a.Requester, now)
		}
	}
}

// runDraftLocked creates the draft: the upload's objects with their
// references resolved by name against this tenant (and the upload itself).
// A reference that does not resolve fails the draft, its message naming the
// object and the reference.
func (t *Tenant) runDraftLocked(d *hubDraft, now time.Time) {
	d.Modified, d.Completed = now, now
	if d.Data == nil {
		d.Status, d.Message = spconfig.StatusFailed, fmt.Sprintf("Draft creation failed: the source backup %s no longer exists.", d.SourceBackupID)
		return
	}
	doc, err := spconfig.ReadExport(bytes.NewReader(d.Data))
	if err != nil {
		d.Status, d.Message = spconfig.StatusFailed, "Draft creation failed: the source backup is not a valid configuration file: "+err.Error()
		return
	}
	plan := t.planHubLocked(doc, false)
	if msg := planErrors(plan); msg != "" {
		d.Status, d.Message = spconfig.StatusFailed, "Draft creation failed: "+msg
		return
	}
	d.Status, d.Message = spconfig.StatusComplete, fmt.Sprintf("Draft created with %d objects from %q.", len(plan), d.SourceBackupName)
}

// deployRefusal says why draft d cannot be deployed, or "" when it can.
func deployRefusal(d *hubDraft) string {
	switch {
	case d.Status != spconfig.StatusComplete:
		return fmt.Sprintf("Draft %s is %s: only a COMPLETE draft can be deployed.", d.ID, d.Status)
	case d.Approval == approvalPending:
		return fmt.Sprintf("Draft %s is pending approval: it can be deployed once it is approved.", d.ID)
	case d.Approval == approvalDenied:
		return fmt.Sprintf("Draft %s was denied: a denied draft cannot be deployed.", d.ID)
	}
	return ""
}

// startDeployLocked queues a deploy of draft d.
func (t *Tenant) startDeployLocked(d *hubDraft, requester string, now time.Time) *hubDeploy {
	dep := &hubDeploy{
		ID: t.newJobIDLocked(), DraftID: d.ID, DraftName: d.Name, Status: spconfig.StatusNotStarted,
		Requester: requester, Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
		Fail: t.rollLocked(t.faults.failDeploy), Data: bytes.Clone(d.Data),
	}
	t.hub.Deploys = append(t.hub.Deploys, dep)
	return dep
}

// runDeployLocked applies the draft's objects to the tenant: each creates or
// replaces the object of its type and name, an existing one keeping its
// tenant id, references resolved by name again (the tenant may have changed
// since the draft). A deploy is all or nothing: an unresolved reference, a
// refused object (fault reject-object) or fail-deploy fails it before any
// object changes.
func (t *Tenant) runDeployLocked(dep *hubDeploy, now time.Time) {
	dep.Modified, dep.Completed = now, now
	if dep.Fail {
		dep.Status, dep.Message = spconfig.StatusFailed, "Deploy failed: an internal error occurred (injected fault fail-deploy)."
		return
	}
	doc, err := spconfig.ReadExport(bytes.NewReader(dep.Data))
	if err != nil {
		dep.Status, dep.Message = spconfig.StatusFailed, "Deploy failed: the draft is not a valid configuration: "+err.Error()
		return
	}
	plan := t.planHubLocked(doc, true)
	for _, p := range plan {
		if p.obj == nil {
			continue
		}
		if fault, ok := t.faults.rejects(p.obj); ok {
			p.errs = append(p.errs, newMessage("", fmt.Sprintf("the target service refused it (injected fault reject-object=%s)", fault), nil))
		}
	}
	if msg := planErrors(plan); msg != "" {
		dep.Status, dep.Message = spconfig.StatusFailed, "Deploy failed, nothing was deployed: "+msg
		return
	}
	var objs []*object
	for _, p := range plan {
		o, err := rewriteObject(p.obj, p.id, p.selfName, p.edits)
		if err != nil {
			dep.Status, dep.Message = spconfig.StatusFailed, fmt.Sprintf("Deploy failed, nothing was deployed: %s %q: %v", p.e.Type(), p.e.Self.Name, err)
			return
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		t.objects[o.Key] = o
		t.learnExternal(o)
	}
	dep.Status, dep.Message = spconfig.StatusComplete, fmt.Sprintf("Deploy completed: %d objects deployed.", len(objs))
}

// planHubLocked checks the entries of an uploaded document for a draft
// (assignIDs false: new objects get no ids yet) or a deploy, and resolves
// their references by name, in the document and then in this tenant.
func (t *Tenant) planHubLocked(doc *spconfig.ExportDocument, assignIDs bool) []*planned {
	plan := make([]*planned, 0, len(doc.Objects))
	inDoc := map[extKey]*planned{}
	for _, e := range doc.Objects {
		p := &planned{e: e}
		plan = append(plan, p)
		if !spconfig.HubType(e.Type()) {
			p.errs = append(p.errs, newMessage("", fmt.Sprintf("object type %s is not supported by Configuration Hub", e.Type()), nil))
			continue
		}
		if spconfig.SignedType(e.Type()) {
			if err := VerifyEntry(e); err != nil {
				p.errs = append(p.errs, newMessage("", "signature verification failed: signed objects must be uploaded exactly as exported", nil))
				continue
			}
		}
		o, err := newObject(e.Raw)
		if err != nil {
			p.errs = append(p.errs, newMessage("", "invalid object: "+err.Error(), nil))
			continue
		}
		p.obj, p.existing = o, t.objects[o.Key]
		if p.existing != nil {
			p.id, p.selfName = p.existing.ID, p.existing.SelfName
		} else if assignIDs {
			p.id, p.selfName = t.targetIdentityLocked(o)
		}
		inDoc[extKey{o.Type, o.Key.Name}] = p
		if o.SelfName != o.Key.Name {
			inDoc[extKey{o.Type, o.SelfName}] = p
		}
	}
	for _, p := range plan {
		if p.obj != nil {
			t.resolveRefsLocked(p, inDoc, nil, nil)
		}
	}
	return plan
}

// planErrors is one message naming every object of plan with an error and
// its errors, "" when there are none.
func planErrors(plan []*planned) string {
	var parts []string
	for _, p := range plan {
		if len(p.errs) == 0 {
			continue
		}
		var texts []string
		for _, m := range p.errs {
			texts = append(texts, m.Text)
		}
		parts = append(parts, fmt.Sprintf("%s %q: %s", p.e.Type(), p.e.Self.Name, strings.Join(texts, "; ")))
	}
	return strings.Join(parts, "; ")
}

func (t *Tenant) findUploadLocked(id string) *hubUpload {
	for _, u := range t.hub.Uploads {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (t *Tenant) findDraftLocked(id string) *hubDraft {
	for _, d := range t.hub.Drafts {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (t *Tenant) findDeployLocked(id string) *hubDeploy {
	for _, d := range t.hub.Deploys {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (t *Tenant) findActionLocked(id string) *hubAction {
	for _, a := range t.hub.Actions {
		if a.ID == id {
			return a
		}
	}
	return nil
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

// SetDraftApproval sets a draft's approvalStatus (DEFAULT, PENDING_APPROVAL,
// APPROVED or DENIED), as an approver in the product's UI would, and records
// the change as an approval comment (DENIED is recorded as REJECTED, the
// comment schema's word). A deploy is refused while the draft is
// PENDING_APPROVAL or DENIED.
func (t *Tenant) SetDraftApproval(id, status, comment string) error {
	switch status {
	case approvalDefault, approvalPending, approvalApproved, approvalDenied:
	default:
		return fmt.Errorf("set approval of draft %s: approvalStatus %q: want DEFAULT, PENDING_APPROVAL, APPROVED or DENIED", id, status)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked()
	d := t.findDraftLocked(id)
	if d == nil {
		return fmt.Errorf("set approval of draft %s: %w", id, errNotFound)
	}
	now := t.opts.Now()
	d.Approval, d.Modified = status, now
	if status != approvalDefault {
		changed := status
		if status == approvalDenied {
			changed = "REJECTED"
		}
		if comment == "" {
			comment = "Set to " + status + " through the fake's admin API."
		}
		who := t.tokenIdentityLocked()
		d.Comments = append(d.Comments, approvalComment{Comment: comment, Timestamp: fmtTime(now), User: who.Name, ID: who.ID, ChangedToStatus: changed})
	}
	return t.saveLocked()
}
