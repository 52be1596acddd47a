package spconfigtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"promoter/spconfig"
)

// hubUpload is an uploaded configuration (BackupResponse, backupType UPLOADED).
type hubUpload struct {
	hubJob
	Name    string `json:"name"`
	Objects int    `json:"totalObjectCount"`
}

func (t *Tenant) findUploadLocked(id string) *hubUpload { return byID(t.hub.Uploads, id) }

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

func (t *Tenant) serveListUploads(w http.ResponseWriter, r *http.Request) {
	f, err := parseHubFilters(r.URL.Query().Get("filters"), "status")
	if err != nil {
		t.badRequest(w, "Invalid filters: "+err.Error()+".")
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
	if !t.parseMultipart(w, r, "the parts 'data' and 'name'") {
		return
	}
	defer r.MultipartForm.RemoveAll()
	data, ok := t.requiredPart(w, r, "data")
	if !ok {
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
		hubJob: hubJob{ID: t.newJobIDLocked(), Status: spconfig.StatusNotStarted, Requester: who,
			Created: now, Modified: now, Due: now.Add(t.opts.JobDelay),
			Fail: t.rollLocked(t.faults.failUpload), Data: bytes.Clone(data)},
		Name: string(name), Objects: len(doc.Objects),
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
	serveDeleteByID(t, w, &t.hub.Uploads, id, fmt.Sprintf("Uploaded configuration %s was not found.", id))
}
