package spconfigtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"promoter/spconfig"
)

// hubAction is a scheduled action (ScheduledActionResponse).
func (a *hubAction) hubID() string { return a.ID }

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

// fireActionLocked runs a scheduled action at time at: CREATE_DRAFT
// queues a draft of its upload, CONFIG_DEPLOY_DRAFT a deploy of its draft
// (when the draft can be deployed then); BACKUP actions are kept but never
// run (the fake has no Configuration Hub backups).
func (t *Tenant) fireActionLocked(a *hubAction, at time.Time) {
	var c actionContent
	_ = json.Unmarshal(a.Content, &c) // checked when the action was created
	switch a.JobType {
	case hubTypeDraft:
		d := &hubDraft{
			hubJob: hubJob{ID: t.newJobIDLocked(), Status: spconfig.StatusNotStarted, Requester: a.Requester,
				Created: at, Modified: at, Due: at.Add(t.opts.JobDelay)},
			Name: c.Name, SourceTenant: c.SourceTenant, SourceBackupID: c.SourceBackupID, Approval: t.draftApproval(),
			Comments: []approvalComment{},
		}
		if u := t.findUploadLocked(c.SourceBackupID); u != nil {
			d.SourceBackupName, d.Data = u.Name, bytes.Clone(u.Data)
		}
		t.hub.Drafts = append(t.hub.Drafts, d)
	case hubTypeDeploy:
		if d := t.findDraftLocked(c.DraftID); d != nil && deployRefusal(d) == "" {
			t.startDeployLocked(d, a.Requester, at)
		}
	}
}

func (t *Tenant) findActionLocked(id string) *hubAction { return byID(t.hub.Actions, id) }

// actionJSON renders ScheduledActionResponse.
func actionJSON(a *hubAction) map[string]any {
	m := map[string]any{
		"id": a.ID, "created": fmtTime(a.Created), "jobType": a.JobType,
		"content": a.Content, "startTime": fmtTime(a.StartTime),
	}
	if a.CronString != "" {
		m["cronString"] = a.CronString
	}
	if a.TimeZoneID != "" {
		m["timeZoneId"] = a.TimeZoneID
	}
	return m
}

func (t *Tenant) serveListActions(w http.ResponseWriter) {
	t.mu.Lock()
	out := []map[string]any{}
	for _, a := range t.hub.Actions {
		out = append(out, actionJSON(a))
	}
	t.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// serveCreateAction is POST /configuration-hub/scheduled-actions.
func (t *Tenant) serveCreateAction(w http.ResponseWriter, r *http.Request, who string) {
	var in struct {
		JobType    string          `json:"jobType"`
		StartTime  string          `json:"startTime"`
		CronString string          `json:"cronString"`
		TimeZoneID string          `json:"timeZoneId"`
		Content    json.RawMessage `json:"content"`
	}
	if !t.readJSONBody(w, r, "scheduled action", &in) {
		return
	}
	var c actionContent
	switch {
	case !slices.Contains(hubScheduledTypes, in.JobType):
		t.badRequest(w, fmt.Sprintf("jobType %q is not one of %s.", in.JobType, strings.Join(hubScheduledTypes, ", ")))
		return
	case len(in.Content) == 0 || json.Unmarshal(in.Content, &c) != nil:
		t.badRequest(w, "content is required: an object with at least a name.")
		return
	case strings.TrimSpace(c.Name) == "":
		t.badRequest(w, "content.name is required.")
		return
	case len([]rune(c.Name)) > hubActionNameMax:
		t.badRequest(w, fmt.Sprintf("content.name must be at most %d characters.", hubActionNameMax))
		return
	}
	now := t.opts.Now()
	start := now
	if in.StartTime != "" {
		st, err := spconfig.ParseTime(in.StartTime)
		if err != nil {
			t.badRequest(w, "startTime is not a date-time: "+err.Error())
			return
		}
		start = st
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch in.JobType {
	case hubTypeDraft:
		if c.SourceBackupID == "" || c.SourceTenant == "" {
			t.badRequest(w, "content.sourceBackupId and content.sourceTenant are required for CREATE_DRAFT jobs.")
			return
		}
		u := t.findUploadLocked(c.SourceBackupID)
		if u == nil {
			t.badRequest(w, fmt.Sprintf("content.sourceBackupId: backup %s was not found.", c.SourceBackupID))
			return
		}
		if c.SourceTenant != t.name {
			t.badRequest(w, fmt.Sprintf("content.sourceTenant %q is not this tenant (%s): an uploaded configuration belongs to the tenant it was uploaded to.", c.SourceTenant, t.name))
			return
		}
		if u.Status != spconfig.StatusComplete {
			t.badRequest(w, fmt.Sprintf("content.sourceBackupId: backup %s is %s: a draft can be created only from a COMPLETE backup.", u.ID, u.Status))
			return
		}
	case hubTypeDeploy:
		if c.DraftID == "" {
			t.badRequest(w, "content.draftId is required for CONFIG_DEPLOY_DRAFT jobs.")
			return
		}
		if t.findDraftLocked(c.DraftID) == nil {
			t.badRequest(w, fmt.Sprintf("content.draftId: draft %s was not found.", c.DraftID))
			return
		}
	case hubTypeBackup:
		if len(c.BackupOptions) == 0 {
			t.badRequest(w, "content.backupOptions is required for BACKUP jobs.")
			return
		}
	}
	a := &hubAction{
		ID: t.newUUIDLocked(), JobType: in.JobType, Content: in.Content, StartTime: start,
		CronString: in.CronString, TimeZoneID: in.TimeZoneID, Created: now, Requester: who,
	}
	t.hub.Actions = append(t.hub.Actions, a)
	t.saveOrLog()
	writeJSON(w, http.StatusOK, actionJSON(a))
}

// servePatchAction is PATCH /configuration-hub/scheduled-actions/{id}: a JSON
// Patch whose replace (or add) operations set /startTime, /cronString,
// /timeZoneId or /content/name.
func (t *Tenant) servePatchAction(w http.ResponseWriter, r *http.Request, id string) {
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if !t.readJSONBody(w, r, "JSON Patch", &ops) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.findActionLocked(id)
	if a == nil {
		t.notFound(w, fmt.Sprintf("Scheduled action %s was not found.", id))
		return
	}
	next := *a
	var content map[string]json.RawMessage
	_ = json.Unmarshal(a.Content, &content)
	for i, op := range ops {
		var s string
		if (op.Op != "replace" && op.Op != "add") || json.Unmarshal(op.Value, &s) != nil {
			t.badRequest(w, fmt.Sprintf("patch[%d]: only replace or add of a string value is supported, got %s %s.", i, op.Op, op.Path))
			return
		}
		switch op.Path {
		case "/startTime":
			st, err := spconfig.ParseTime(s)
			if err != nil {
				t.badRequest(w, fmt.Sprintf("patch[%d]: startTime is not a date-time: %v", i, err))
				return
			}
			next.StartTime, next.Fired = st, false
		case "/cronString":
			next.CronString = s
		case "/timeZoneId":
			next.TimeZoneID = s
		case "/content/name":
			if strings.TrimSpace(s) == "" || len([]rune(s)) > hubActionNameMax {
				t.badRequest(w, fmt.Sprintf("patch[%d]: content.name must have 1 to %d characters.", i, hubActionNameMax))
				return
			}
			content["name"] = jsonString(s)
		default:
			t.badRequest(w, fmt.Sprintf("patch[%d]: path %s cannot be changed (use /startTime, /cronString, /timeZoneId or /content/name).", i, op.Path))
			return
		}
	}
	next.Content = mustJSON(content)
	*a = next
	t.saveOrLog()
	writeJSON(w, http.StatusOK, actionJSON(a))
}

func (t *Tenant) serveDeleteAction(w http.ResponseWriter, id string) {
	serveDeleteByID(t, w, &t.hub.Actions, id, fmt.Sprintf("Scheduled action %s was not found.", id))
}

// draftApproval is the approvalStatus a new draft starts with.
func (t *Tenant) draftApproval() string {
	if t.opts.DraftApproval == approvalPending {
		return approvalPending
	}
	return approvalDefault
}
