package spconfigtest

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"promoter/spconfig"
)

// hubDeploy is a deploy (DeployResponse).
type hubDeploy struct {
	hubJob
	DraftID   string `json:"draftId"`
	DraftName string `json:"draftName"`
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
		hubJob: hubJob{ID: t.newJobIDLocked(), Status: spconfig.StatusNotStarted,
			Requester: requester, Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
			Fail: t.rollLocked(t.faults.failDeploy), Data: bytes.Clone(d.Data)},
		DraftID: d.ID, DraftName: d.Name,
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

func (t *Tenant) findDeployLocked(id string) *hubDeploy { return byID(t.hub.Deploys, id) }

// deployJSON renders DeployResponse.
func deployJSON(d *hubDeploy) map[string]any {
	m := map[string]any{
		"jobId": d.ID, "status": d.Status, "type": hubTypeDeploy, "requesterName": d.Requester,
		"fileExists": d.done(), "created": fmtTime(d.Created), "modified": fmtTime(d.Modified),
		"draftId": d.DraftID, "draftName": d.DraftName, "cloudStorageStatus": "NOT_SYNCED",
	}
	if d.Message != "" {
		m["message"] = d.Message
	}
	if d.done() {
		m["completed"] = fmtTime(d.Completed)
	}
	return m
}

func (t *Tenant) serveListDeploys(w http.ResponseWriter) {
	t.mu.Lock()
	items := []map[string]any{}
	for _, d := range t.hub.Deploys {
		items = append(items, deployJSON(d))
	}
	t.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// serveCreateDeploy is POST /configuration-hub/deploys {draftId}.
func (t *Tenant) serveCreateDeploy(w http.ResponseWriter, r *http.Request, who string) {
	var in struct {
		DraftID string `json:"draftId"`
	}
	if !t.readJSONBody(w, r, "deploy request", &in) {
		return
	}
	if in.DraftID == "" {
		t.badRequest(w, "draftId is required.")
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.findDraftLocked(in.DraftID)
	if d == nil {
		t.badRequest(w, fmt.Sprintf("Draft %s was not found.", in.DraftID))
		return
	}
	if why := deployRefusal(d); why != "" {
		t.badRequest(w, why)
		return
	}
	dep := t.startDeployLocked(d, who, t.opts.Now())
	t.saveOrLog()
	writeJSON(w, http.StatusAccepted, deployJSON(dep))
}

func (t *Tenant) serveGetDeploy(w http.ResponseWriter, id string) {
	t.mu.Lock()
	d := t.findDeployLocked(id)
	var out map[string]any
	if d != nil {
		out = deployJSON(d)
	}
	t.mu.Unlock()
	if d == nil {
		t.notFound(w, fmt.Sprintf("Deploy %s was not found.", id))
		return
	}
	writeJSON(w, http.StatusOK, out)
}
