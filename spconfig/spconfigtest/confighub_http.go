package spconfigtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"promoter/spconfig"
)

// Scopes of the Configuration Hub endpoints, the spec's userAuth lists.
var (
	scopesBackupRead  = []string{"sp:config-backup:read", "sp:config-backup:manage"}
	scopesBackupMgmt  = []string{"sp:config-backup:manage"}
	scopesActionRead  = []string{"sp:config-scheduled-action:read", "sp:config-scheduled-action:manage"}
	scopesActionMgmt  = []string{"sp:config-scheduled-action:manage"}
	scopesDraftRead   = []string{"sp:config-draft:read", "sp:config-draft:manage"}
	scopesDraftMgmt   = []string{"sp:config-draft:manage"}
	scopesDeployRead  = []string{"sp:config-deploy:read", "sp:config-deploy:manage"}
	scopesDeployMgmt  = []string{"sp:config-deploy:manage"}
	hubNotFoundText   = "The server did not find a current representation for the target resource."
	hubForbiddenText  = "The server understood the request but refuses to authorize it."
	hubFilterClause   = regexp.MustCompile(`^\s*(\w+)\s+(\w+)\s+"([^"]*)"\s*$`)
	hubFilterAnd      = regexp.MustCompile(`(?i)\s+and\s+`)
	hubActionNameMax  = 50
	hubScheduledTypes = []string{hubTypeBackup, hubTypeDraft, hubTypeDeploy}
)

// hubPath maps /{ver}/configuration-hub/X to "X".
func hubPath(p string) (string, bool) {
	for _, v := range versionPrefixes {
		if rest, ok := strings.CutPrefix(p, v+"/configuration-hub/"); ok {
			return rest, true
		}
	}
	return "", false
}

// hubRoute is one Configuration Hub path: the scopes of each of its methods.
type hubRoute map[string][]string

// hubRouteOf returns the path's methods, or ok false for a path the fake does
// not serve.
func hubRouteOf(parts []string) (hubRoute, bool) {
	switch {
	case len(parts) == 2 && parts[0] == "backups" && parts[1] == "uploads":
		return hubRoute{http.MethodGet: scopesBackupRead, http.MethodPost: scopesBackupMgmt}, true
	case len(parts) == 3 && parts[0] == "backups" && parts[1] == "uploads":
		return hubRoute{http.MethodGet: scopesBackupRead, http.MethodDelete: scopesBackupMgmt}, true
	case len(parts) == 1 && parts[0] == "scheduled-actions":
		return hubRoute{http.MethodGet: scopesActionRead, http.MethodPost: scopesActionMgmt}, true
	case len(parts) == 2 && parts[0] == "scheduled-actions":
		return hubRoute{http.MethodPatch: scopesActionMgmt, http.MethodDelete: scopesActionMgmt}, true
	case len(parts) == 1 && parts[0] == "drafts":
		return hubRoute{http.MethodGet: scopesDraftRead}, true
	case len(parts) == 2 && parts[0] == "drafts":
		return hubRoute{http.MethodDelete: scopesDraftMgmt}, true
	case len(parts) == 1 && parts[0] == "deploys":
		return hubRoute{http.MethodGet: scopesDeployRead, http.MethodPost: scopesDeployMgmt}, true
	case len(parts) == 2 && parts[0] == "deploys":
		return hubRoute{http.MethodGet: scopesDeployRead}, true
	}
	return nil, false
}

// serveHub handles the Configuration Hub endpoints; rest is the path after
// /configuration-hub/. Checks run in the SP-Config order: 401, 429, injected
// fault, 404, 405, 403.
func (t *Tenant) serveHub(w http.ResponseWriter, r *http.Request, rest string) {
	claims, ok := t.admit(w, r)
	if !ok {
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	rt, known := hubRouteOf(parts)
	if !known || slices.Contains(parts, "") {
		t.notFound(w, hubNotFoundText)
		return
	}
	scopes, ok := rt[r.Method]
	if !ok {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			if _, ok := rt[m]; ok {
				allow = append(allow, m)
			}
		}
		t.methodNotAllowed(w, allow...)
		return
	}
	if !claims.allows(scopes) {
		t.errorBody(w, http.StatusForbidden, "403 Forbidden", hubForbiddenText)
		return
	}
	who := claims.UserName
	switch {
	case parts[0] == "backups" && len(parts) == 2 && r.Method == http.MethodGet:
		t.serveListUploads(w, r)
	case parts[0] == "backups" && len(parts) == 2:
		t.serveCreateUpload(w, r, who)
	case parts[0] == "backups" && r.Method == http.MethodGet:
		t.serveGetUpload(w, parts[2])
	case parts[0] == "backups":
		t.serveDeleteUpload(w, parts[2])
	case parts[0] == "scheduled-actions" && len(parts) == 1 && r.Method == http.MethodGet:
		t.serveListActions(w)
	case parts[0] == "scheduled-actions" && len(parts) == 1:
		t.serveCreateAction(w, r, who)
	case parts[0] == "scheduled-actions" && r.Method == http.MethodPatch:
		t.servePatchAction(w, r, parts[1])
	case parts[0] == "scheduled-actions":
		t.serveDeleteAction(w, parts[1])
	case parts[0] == "drafts" && len(parts) == 1:
		t.serveListDrafts(w, r)
	case parts[0] == "drafts":
		t.serveDeleteDraft(w, parts[1])
	case parts[0] == "deploys" && len(parts) == 1 && r.Method == http.MethodGet:
		t.serveListDeploys(w)
	case parts[0] == "deploys" && len(parts) == 1:
		t.serveCreateDeploy(w, r, who)
	default:
		t.serveGetDeploy(w, parts[1])
	}
}

// parseHubFilters parses a filters parameter of clauses `field eq "value"`
// joined by "and", allowing only the given fields.
func parseHubFilters(s string, fields ...string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, clause := range hubFilterAnd.Split(strings.TrimSpace(s), -1) {
		m := hubFilterClause.FindStringSubmatch(clause)
		if m == nil {
			return nil, fmt.Errorf("Invalid filter %q: write field eq \"value\"", clause)
		}
		if !slices.Contains(fields, m[1]) {
			return nil, fmt.Errorf("Filtering is not supported for the field %q: supported fields are %s", m[1], strings.Join(fields, ", "))
		}
		if !strings.EqualFold(m[2], "eq") {
			return nil, fmt.Errorf("Filter operator %q is not supported for the field %q: use eq", m[2], m[1])
		}
		out[m[1]] = m[3]
	}
	return out, nil
}

// uploadJSON renders BackupResponse.
func (t *Tenant) uploadJSON(u *hubUpload) map[string]any {
	m := map[string]any{
		"jobId": u.ID, "status": u.Status, "type": hubTypeBackup, "tenant": t.name, "requesterName": u.Requester,
		"fileExists": u.Status == spconfig.StatusComplete, "created": fmtTime(u.Created), "modified": fmtTime(u.Modified),
		"name": u.Name, "userCanDelete": true, "isPartial": false, "backupType": backupUploaded,
		"hydrationStatus": "NOT_HYDRATED", "totalObjectCount": 0, "cloudStorageStatus": "NOT_SYNCED",
	}
	if u.done() {
		m["completed"] = fmtTime(u.Completed)
	}
	if u.Status == spconfig.StatusComplete {
		m["hydrationStatus"], m["totalObjectCount"] = "HYDRATED", u.Objects
	}
	return m
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

func (t *Tenant) serveListUploads(w http.ResponseWriter, r *http.Request) {
	f, err := parseHubFilters(r.URL.Query().Get("filters"), "status")
	if err != nil {
		t.badRequest(w, err.Error())
		return
	}
	t.mu.Lock()
	out := []map[string]any{}
	for _, u := range t.hub.Uploads {
		if s, ok := f["status"]; !ok || s == u.Status {
			out = append(out, t.uploadJSON(u))
		}
	}
	t.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// serveCreateUpload is POST /configuration-hub/backups/uploads: multipart
// parts "data" (an SP-Config export document) and "name".
func (t *Tenant) serveCreateUpload(w http.ResponseWriter, r *http.Request, who string) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		t.badRequest(w, "Content type '"+r.Header.Get("Content-Type")+"' not supported: send multipart/form-data with the parts 'data' and 'name'.")
		return
	}
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		t.badRequest(w, "The multipart request could not be parsed: "+err.Error())
		return
	}
	defer r.MultipartForm.RemoveAll()
	data, ok, err := formPart(r, "data")
	switch {
	case err != nil:
		t.badRequest(w, "Required request part 'data' could not be read: "+err.Error())
		return
	case !ok:
		t.badRequest(w, "Required request part 'data' is not present.")
		return
	}
	name, ok, err := formPart(r, "name")
	if err != nil || !ok || strings.TrimSpace(string(name)) == "" {
		t.badRequest(w, "Required request part 'name' is not present: name the uploaded configuration.")
		return
	}
	if !json.Valid(data) {
		t.badRequest(w, "Required request part 'data' is not valid JSON.")
		return
	}
	doc, err := spconfig.ReadExport(bytes.NewReader(data))
	if err != nil {
		t.badRequest(w, "Required request part 'data' is not an SP-Config export document: "+err.Error())
		return
	}
	var unsupported []string
	for _, e := range doc.Objects {
		if !spconfig.HubType(e.Type()) && !slices.Contains(unsupported, e.Type()) {
			unsupported = append(unsupported, e.Type())
		}
	}
	if len(unsupported) > 0 {
		t.badRequest(w, fmt.Sprintf("The uploaded file contains object types Configuration Hub does not support: [%s].", strings.Join(unsupported, ", ")))
		return
	}
	t.mu.Lock()
	if len(t.hub.Uploads) >= maxUploads {
		t.mu.Unlock()
		t.badRequest(w, fmt.Sprintf("The tenant already has the maximum of %d uploaded configurations: delete one before uploading another.", maxUploads))
		return
	}
	now := t.opts.Now()
	u := &hubUpload{
		ID: t.newJobIDLocked(), Name: string(name), Status: spconfig.StatusNotStarted, Requester: who,
		Objects: len(doc.Objects), Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
		Fail: t.rollLocked(t.faults.failUpload), Data: bytes.Clone(data),
	}
	t.hub.Uploads = append(t.hub.Uploads, u)
	out := t.uploadJSON(u)
	t.saveOrLog()
	t.mu.Unlock()
	writeJSON(w, http.StatusAccepted, out)
}

func (t *Tenant) serveGetUpload(w http.ResponseWriter, id string) {
	t.mu.Lock()
	u := t.findUploadLocked(id)
	var out map[string]any
	if u != nil {
		out = t.uploadJSON(u)
	}
	t.mu.Unlock()
	if u == nil {
		t.notFound(w, fmt.Sprintf("Uploaded configuration %s was not found.", id))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (t *Tenant) serveDeleteUpload(w http.ResponseWriter, id string) {
	t.mu.Lock()
	i := slices.IndexFunc(t.hub.Uploads, func(u *hubUpload) bool { return u.ID == id })
	if i >= 0 {
		t.hub.Uploads = slices.Delete(t.hub.Uploads, i, i+1)
		t.saveOrLog()
	}
	t.mu.Unlock()
	if i < 0 {
		t.notFound(w, fmt.Sprintf("Uploaded configuration %s was not found.", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
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

// readJSONBody reads a JSON request body of at most 1 MiB into v, or writes
// the 400 and returns false.
func (t *Tenant) readJSONBody(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		t.badRequest(w, "Content type '"+r.Header.Get("Content-Type")+"' not supported: send the "+what+" as application/json.")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		t.badRequest(w, "The request body could not be read: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.badRequest(w, "The request body is not a valid "+what+": "+err.Error())
		return false
	}
	return true
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
	t.mu.Lock()
	i := slices.IndexFunc(t.hub.Actions, func(a *hubAction) bool { return a.ID == id })
	if i >= 0 {
		t.hub.Actions = slices.Delete(t.hub.Actions, i, i+1)
		t.saveOrLog()
	}
	t.mu.Unlock()
	if i < 0 {
		t.notFound(w, fmt.Sprintf("Scheduled action %s was not found.", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (t *Tenant) serveListDrafts(w http.ResponseWriter, r *http.Request) {
	f, err := parseHubFilters(r.URL.Query().Get("filters"), "status", "approvalStatus")
	if err != nil {
		t.badRequest(w, err.Error())
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
	t.mu.Lock()
	i := slices.IndexFunc(t.hub.Drafts, func(d *hubDraft) bool { return d.ID == id })
	if i >= 0 {
		t.hub.Drafts = slices.Delete(t.hub.Drafts, i, i+1)
		t.saveOrLog()
	}
	t.mu.Unlock()
	if i < 0 {
		t.notFound(w, fmt.Sprintf("Draft %s was not found.", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
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

// serveHubAdmin is the Configuration Hub part of the admin API:
// GET /_fake/configuration-hub and PUT /_fake/drafts/{id}.
func (t *Tenant) serveHubAdmin(w http.ResponseWriter, r *http.Request, what string) bool {
	switch {
	case what == "configuration-hub" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, t.ConfigurationHub())
	case what == "configuration-hub":
		t.methodNotAllowed(w, http.MethodGet)
	case strings.HasPrefix(what, "drafts/") && r.Method == http.MethodPut:
		id := strings.TrimPrefix(what, "drafts/")
		var in struct {
			ApprovalStatus string `json:"approvalStatus"`
			Comment        string `json:"comment"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			t.badRequest(w, `PUT /_fake/drafts/{id} wants {"approvalStatus": "PENDING_APPROVAL"|"APPROVED"|"DENIED"|"DEFAULT", "comment": "..."}`)
			return true
		}
		err := t.SetDraftApproval(id, in.ApprovalStatus, in.Comment)
		switch {
		case errors.Is(err, errNotFound):
			t.notFound(w, err.Error())
		case err != nil:
			t.badRequest(w, err.Error())
		default:
			t.mu.Lock()
			out := draftJSON(t.findDraftLocked(id))
			t.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
		}
	case strings.HasPrefix(what, "drafts/"):
		t.methodNotAllowed(w, http.MethodPut)
	default:
		return false
	}
	return true
}
