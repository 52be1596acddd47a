package spconfigtest

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"promoter/spconfig"
)

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
	hubJob
	Name             string            `json:"name"`
	SourceTenant     string            `json:"sourceTenant"`
	SourceBackupID   string            `json:"sourceBackupId"`
	SourceBackupName string            `json:"sourceBackupName"`
	Approval         string            `json:"approvalStatus"`
	Comments         []approvalComment `json:"approvalComment"`
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
		t.placeLocked(p, o, assignIDs, inDoc)
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

func (t *Tenant) findDraftLocked(id string) *hubDraft { return byID(t.hub.Drafts, id) }

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

// draftJSON renders DraftResponse.
func draftJSON(d *hubDraft) map[string]any {
	m := map[string]any{
		"jobId": d.ID, "status": d.Status, "type": hubTypeDraft, "requesterName": d.Requester,
		"fileExists": d.Status == spconfig.StatusComplete, "created": fmtTime(d.Created), "modified": fmtTime(d.Modified),
		"name": d.Name, "sourceTenant": d.SourceTenant, "sourceBackupId": d.SourceBackupID,
		"sourceBackupName": d.SourceBackupName, "mode": modeUpload, "approvalStatus": d.Approval,
		"approvalComment": d.Comments,
	}
	if d.Comments == nil {
		m["approvalComment"] = []approvalComment{}
	}
	if d.Message != "" {
		m["message"] = d.Message
	}
	if d.done() {
		m["completed"] = fmtTime(d.Completed)
	}
	return m
}

func (t *Tenant) serveListDrafts(w http.ResponseWriter, r *http.Request) {
	f, err := parseHubFilters(r.URL.Query().Get("filters"), "status", "approvalStatus")
	if err != nil {
		t.badRequest(w, "Invalid filters: "+err.Error()+".")
		return
	}
	t.mu.Lock()
	out := []map[string]any{}
	for _, d := range t.hub.Drafts {
		if s, ok := f["status"]; ok && s != d.Status {
			continue
		}
		if s, ok := f["approvalStatus"]; ok && s != d.Approval {
			continue
		}
		out = append(out, draftJSON(d))
	}
	t.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (t *Tenant) serveDeleteDraft(w http.ResponseWriter, id string) {
	serveDeleteByID(t, w, &t.hub.Drafts, id, fmt.Sprintf("Draft %s was not found.", id))
}
