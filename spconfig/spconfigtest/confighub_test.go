package spconfigtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
)

const hubPrefix = "/v2025/configuration-hub"

// uploadBody builds a createUploadedConfiguration request body.
func uploadBody(t *testing.T, data []byte, name string) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if data != nil {
		fw, err := mw.CreateFormFile("data", "upload.json")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	if name != "" {
		if err := mw.WriteField("name", name); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

// upload uploads data and returns the accepted upload.
func (f *fixture) upload(data []byte, name string) map[string]any {
	f.t.Helper()
	body, ct := uploadBody(f.t, data, name)
	r := f.do("POST", hubPrefix+"/backups/uploads", body, ct)
	if r.status != http.StatusAccepted {
		f.t.Fatalf("POST uploads: status %d: %s", r.status, r.body)
	}
	return decode[map[string]any](f.t, r.body)
}

// scheduleDraft creates a CREATE_DRAFT scheduled action of upload id.
func (f *fixture) scheduleDraft(id string) map[string]any {
	f.t.Helper()
	body := fmt.Sprintf(`{"jobType":"CREATE_DRAFT","startTime":%q,"content":{"name":"draft of %s","sourceBackupId":%q,"sourceTenant":%q}}`,
		f.clock.Now().Format(time.RFC3339), id[:8], id, f.srv.Name())
	r := f.do("POST", hubPrefix+"/scheduled-actions", strings.NewReader(body), "application/json")
	if r.status != http.StatusOK {
		f.t.Fatalf("POST scheduled-actions: status %d: %s", r.status, r.body)
	}
	return decode[map[string]any](f.t, r.body)
}

// draftOf returns the draft made from upload id, failing when there is none.
func (f *fixture) draftOf(id string) map[string]any {
	f.t.Helper()
	var drafts []map[string]any
	f.getJSON(hubPrefix+"/drafts", 200, &drafts)
	for _, d := range drafts {
		if d["sourceBackupId"] == id {
			return d
		}
	}
	f.t.Fatalf("no draft of upload %s in %v", id, drafts)
	return nil
}

func (f *fixture) setApproval(id, status string) {
	f.t.Helper()
	req, _ := http.NewRequest("PUT", f.srv.URL+"/_fake/drafts/"+id, strings.NewReader(`{"approvalStatus":"`+status+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		f.t.Fatalf("PUT /_fake/drafts/%s: status %d", id, resp.StatusCode)
	}
}

// TestHubPromotesRoleAndAccessProfile: a ROLE and an ACCESS_PROFILE from dev,
// uploaded to prod, drafted, approved and deployed, replace prod's objects of
// those names and keep prod's ids; statuses progress with the job delay.
func TestHubPromotesRoleAndAccessProfile(t *testing.T) {
	dev := start(t, "dev", nil)
	prod := start(t, "prod", func(o *Options) { o.JobDelay = 2 * time.Second })
	role := find(t, dev.srv.Objects("ROLE"), "ROLE", "Employee Database Access")
	ap := find(t, dev.srv.Objects("ACCESS_PROFILE"), "ACCESS_PROFILE", "Employee-database-read-write")
	var obj map[string]any
	if err := json.Unmarshal(role.Object(), &obj); err != nil {
		t.Fatal(err)
	}
	obj["description"] = "promoted through Configuration Hub"
	role, err := role.WithObject(mustJSON(obj))
	if err != nil {
		t.Fatal(err)
	}
	prodRole := find(t, prod.srv.Objects("ROLE"), "ROLE", "Employee Database Access")

	u := prod.upload(docOf("dev", role, ap), "promoter upload")
	if u["status"] != spconfig.StatusNotStarted || u["type"] != "BACKUP" || u["backupType"] != "UPLOADED" || u["tenant"] != prod.srv.Name() {
		t.Fatalf("accepted upload: %v", u)
	}
	id := u["jobId"].(string)
	prod.clock.Add(time.Second)
	var got map[string]any
	prod.getJSON(hubPrefix+"/backups/uploads/"+id, 200, &got)
	if got["status"] != spconfig.StatusInProgress {
		t.Fatalf("upload after 1s: %v", got)
	}
	prod.clock.Add(time.Second)
	prod.getJSON(hubPrefix+"/backups/uploads/"+id, 200, &got)
	if got["status"] != spconfig.StatusComplete || got["totalObjectCount"] != 2.0 || got["hydrationStatus"] != "HYDRATED" {
		t.Fatalf("upload after 2s: %v", got)
	}

	a := prod.scheduleDraft(id)
	if a["jobType"] != "CREATE_DRAFT" || a["id"] == "" {
		t.Fatalf("scheduled action: %v", a)
	}
	d := prod.draftOf(id)
	if d["status"] != spconfig.StatusNotStarted || d["approvalStatus"] != "DEFAULT" || d["mode"] != "UPLOAD" || d["sourceBackupName"] != "promoter upload" {
		t.Fatalf("new draft: %v", d)
	}
	prod.clock.Add(2 * time.Second)
	d = prod.draftOf(id)
	if d["status"] != spconfig.StatusComplete {
		t.Fatalf("draft after the delay: %v", d)
	}
	draftID := d["jobId"].(string)
	// GET /drafts/{id} is not in the spec: 405 naming DELETE.
	if r := prod.do("GET", hubPrefix+"/drafts/"+draftID, nil, ""); r.status != 405 || r.header.Get("Allow") != "DELETE" {
		t.Errorf("GET draft by id: %d %s", r.status, r.header.Get("Allow"))
	}

	deploy := func() response {
		return prod.do("POST", hubPrefix+"/deploys", strings.NewReader(`{"draftId":"`+draftID+`"}`), "application/json")
	}
	prod.setApproval(draftID, "PENDING_APPROVAL")
	if r := deploy(); r.status != 400 || !strings.Contains(string(r.body), "pending approval") {
		t.Fatalf("deploy of a pending draft: %d %s", r.status, r.body)
	}
	prod.setApproval(draftID, "DENIED")
	if r := deploy(); r.status != 400 || !strings.Contains(string(r.body), "denied") {
		t.Fatalf("deploy of a denied draft: %d %s", r.status, r.body)
	}
	prod.setApproval(draftID, "APPROVED")
	d = prod.draftOf(id)
	if cs, _ := d["approvalComment"].([]any); len(cs) != 3 || cs[1].(map[string]any)["changedToStatus"] != "REJECTED" {
		t.Errorf("approval comments: %v", d["approvalComment"])
	}
	r := deploy()
	if r.status != 202 {
		t.Fatalf("deploy: %d %s", r.status, r.body)
	}
	dep := decode[map[string]any](t, r.body)
	if dep["status"] != spconfig.StatusNotStarted || dep["draftId"] != draftID || dep["type"] != "CONFIG_DEPLOY_DRAFT" {
		t.Fatalf("accepted deploy: %v", dep)
	}
	if got := find(t, prod.srv.Objects("ROLE"), "ROLE", "Employee Database Access"); !bytes.Equal(got.Raw, prodRole.Raw) {
		t.Fatal("the deploy changed the tenant before it ran")
	}
	prod.clock.Add(2 * time.Second)
	prod.getJSON(hubPrefix+"/deploys/"+dep["jobId"].(string), 200, &got)
	if got["status"] != spconfig.StatusComplete || !strings.Contains(got["message"].(string), "2 objects") {
		t.Fatalf("deploy after the delay: %v", got)
	}
	after := find(t, prod.srv.Objects("ROLE"), "ROLE", "Employee Database Access")
	if after.Self.ID != prodRole.Self.ID || !strings.Contains(string(after.Raw), "promoted through Configuration Hub") {
		t.Fatalf("prod role after deploy (want prod id %s): %s", prodRole.Self.ID, after.Raw)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	prod.getJSON(hubPrefix+"/deploys", 200, &list)
	if len(list.Items) != 1 {
		t.Errorf("deploys: %v", list.Items)
	}
	// Deleting the upload leaves the draft; deleting the action works once.
	if r := prod.do("DELETE", hubPrefix+"/backups/uploads/"+id, nil, ""); r.status != 204 {
		t.Errorf("delete upload: %d %s", r.status, r.body)
	}
	if r := prod.do("DELETE", hubPrefix+"/backups/uploads/"+id, nil, ""); r.status != 404 {
		t.Errorf("second delete of the upload: %d", r.status)
	}
	for _, path := range []string{"/scheduled-actions/" + a["id"].(string), "/drafts/" + draftID} {
		if r := prod.do("DELETE", hubPrefix+path, nil, ""); r.status != 204 {
			t.Errorf("DELETE %s: %d %s", path, r.status, r.body)
		}
	}
}

// TestHubDraftFailsOnMissingOwner: a ROLE whose owner identity is missing in
// the target gives a FAILED draft whose message names the role and the owner;
// it cannot be deployed.
func TestHubDraftFailsOnMissingOwner(t *testing.T) {
	dev := start(t, "dev", nil)
	prod := start(t, "prod", nil)
	role := find(t, dev.srv.Objects("ROLE"), "ROLE", "2 entitlement role") // owner Imogene Mendez, absent from prod
	id := prod.upload(docOf("dev", role), "missing owner")["jobId"].(string)
	prod.getJSON(hubPrefix+"/backups/uploads/"+id, 200, nil)
	prod.scheduleDraft(id)
	d := prod.draftOf(id)
	msg, _ := d["message"].(string)
	if d["status"] != spconfig.StatusFailed || !strings.Contains(msg, `ROLE "2 entitlement role"`) || !strings.Contains(msg, "Imogene Mendez") {
		t.Fatalf("draft: %v", d)
	}
	r := prod.do("POST", hubPrefix+"/deploys", strings.NewReader(`{"draftId":"`+d["jobId"].(string)+`"}`), "application/json")
	if r.status != 400 || !strings.Contains(string(r.body), "only a COMPLETE draft") {
		t.Fatalf("deploy of a failed draft: %d %s", r.status, r.body)
	}
	// With the owner added the same upload drafts fine.
	prod.srv.AddIdentity("Imogene Mendez")
	prod.scheduleDraft(id)
	var drafts []map[string]any
	prod.getJSON(hubPrefix+"/drafts?filters="+url.QueryEscape(`status eq "COMPLETE"`), 200, &drafts)
	if len(drafts) != 1 || drafts[0]["sourceBackupId"] != id {
		t.Fatalf("complete drafts: %v", drafts)
	}
}

// TestHubRequestErrors: the spec's 400s, the upload limit, filters, 404, 405
// and 403 by scope.
func TestHubRequestErrors(t *testing.T) {
	prod := start(t, "prod", nil)
	doc := docOf("prod", find(t, prod.srv.Objects("ROLE"), "ROLE", "Employee Database Access"))
	cases := []struct {
		name, method, path, ct, body, want string
		status                             int
	}{
		{"upload not multipart", "POST", "/backups/uploads", "application/json", `{}`, "multipart/form-data", 400},
		{"schedule unknown jobType", "POST", "/scheduled-actions", "application/json", `{"jobType":"NOPE","content":{"name":"x"}}`, "jobType", 400},
		{"schedule draft without backup", "POST", "/scheduled-actions", "application/json", `{"jobType":"CREATE_DRAFT","content":{"name":"x"}}`, "sourceBackupId", 400},
		{"schedule draft of unknown backup", "POST", "/scheduled-actions", "application/json", `{"jobType":"CREATE_DRAFT","content":{"name":"x","sourceBackupId":"nope","sourceTenant":"prod"}}`, "not found", 400},
		{"schedule name too long", "POST", "/scheduled-actions", "application/json", `{"jobType":"BACKUP","content":{"name":"` + strings.Repeat("n", 51) + `","backupOptions":{}}}`, "50", 400},
		{"deploy without draft", "POST", "/deploys", "application/json", `{}`, "draftId", 400},
		{"deploy of unknown draft", "POST", "/deploys", "application/json", `{"draftId":"nope"}`, "not found", 400},
		{"drafts by sourceBackupId", "GET", "/drafts?filters=" + url.QueryEscape(`sourceBackupId eq "x"`), "", "", "not supported", 400},
		{"uploads by name", "GET", "/backups/uploads?filters=" + url.QueryEscape(`name eq "x"`), "", "", "not supported", 400},
		{"unknown upload", "GET", "/backups/uploads/nope", "", "", "not found", 404},
		{"unknown deploy", "GET", "/deploys/nope", "", "", "not found", 404},
		{"unknown action", "DELETE", "/scheduled-actions/nope", "", "", "not found", 404},
		{"unknown path", "GET", "/nothing", "", "", "", 404},
		{"wrong method", "PUT", "/deploys", "application/json", `{}`, "GET or POST", 405},
	}
	for _, c := range cases {
		r := prod.do(c.method, hubPrefix+c.path, strings.NewReader(c.body), c.ct)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, r.status, r.body, c.status, c.want)
		}
	}
	body, ct := uploadBody(t, doc, "")
	if r := prod.do("POST", hubPrefix+"/backups/uploads", body, ct); r.status != 400 || !strings.Contains(string(r.body), "'name'") {
		t.Errorf("upload without name: %d %s", r.status, r.body)
	}
	body, ct = uploadBody(t, []byte(`{"objects":[{"version":1,"self":{"type":"CONNECTOR_RULE","id":"1","name":"r"},"object":{"name":"r"}}]}`), "cr")
	if r := prod.do("POST", hubPrefix+"/backups/uploads", body, ct); r.status != 400 || !strings.Contains(string(r.body), "CONNECTOR_RULE") {
		t.Errorf("upload of a CONNECTOR_RULE: %d %s", r.status, r.body)
	}
	// At most 10 uploads: the 11th is refused until one is deleted.
	var first string
	for i := range 10 {
		u := prod.upload(doc, fmt.Sprintf("upload %d", i))
		if i == 0 {
			first = u["jobId"].(string)
		}
	}
	body, ct = uploadBody(t, doc, "eleventh")
	if r := prod.do("POST", hubPrefix+"/backups/uploads", body, ct); r.status != 400 || !strings.Contains(string(r.body), "maximum of 10") {
		t.Fatalf("11th upload: %d %s", r.status, r.body)
	}
	var uploads []map[string]any
	prod.getJSON(hubPrefix+"/backups/uploads?filters="+url.QueryEscape(`status eq "COMPLETE"`), 200, &uploads)
	if len(uploads) != 10 {
		t.Errorf("%d complete uploads, want 10", len(uploads))
	}
	prod.do("DELETE", hubPrefix+"/backups/uploads/"+first, nil, "")
	prod.upload(doc, "eleventh")

	// Scopes: the spec's userAuth lists.
	ro := start(t, "prod", func(o *Options) {
		o.Scopes = []string{"sp:config-backup:read", "sp:config-draft:read", "sp:config-deploy:read", "sp:config-scheduled-action:read"}
	})
	for _, path := range []string{"/backups/uploads", "/drafts", "/deploys", "/scheduled-actions"} {
		if r := ro.do("GET", hubPrefix+path, nil, ""); r.status != 200 {
			t.Errorf("read-only GET %s: %d %s", path, r.status, r.body)
		}
	}
	body, ct = uploadBody(t, doc, "ro")
	if r := ro.do("POST", hubPrefix+"/backups/uploads", body, ct); r.status != 403 {
		t.Errorf("read-only upload: %d %s", r.status, r.body)
	}
	if r := ro.do("POST", hubPrefix+"/deploys", strings.NewReader(`{"draftId":"x"}`), "application/json"); r.status != 403 {
		t.Errorf("read-only deploy: %d %s", r.status, r.body)
	}
	sp := start(t, "prod", func(o *Options) { o.Scopes = []string{"sp:config:manage"} })
	if r := sp.do("GET", hubPrefix+"/drafts", nil, ""); r.status != 403 {
		t.Errorf("sp:config:manage lists drafts: %d", r.status)
	}
	for _, ver := range []string{"/beta", "/v2024", "/v2026"} {
		if r := prod.do("GET", ver+"/configuration-hub/drafts", nil, ""); r.status != 200 {
			t.Errorf("GET %s/configuration-hub/drafts: %d", ver, r.status)
		}
	}
}

// TestHubDeployIsAllOrNothing: a deploy that meets a refused object changes
// nothing and says which object; fail-upload fails the upload job; the state
// file keeps Configuration Hub across a restart.
func TestHubDeployIsAllOrNothing(t *testing.T) {
	state := t.TempDir() + "/state.json"
	dev := start(t, "dev", nil)
	prod := start(t, "prod", func(o *Options) { o.StatePath = state })
	role := find(t, dev.srv.Objects("ROLE"), "ROLE", "Employee Database Access")
	ap := find(t, dev.srv.Objects("ACCESS_PROFILE"), "ACCESS_PROFILE", "AD HelpDesk")
	before := prod.srv.Objects("")
	id := prod.upload(docOf("dev", ap, role), "two")["jobId"].(string)
	prod.scheduleDraft(id)
	draftID := prod.draftOf(id)["jobId"].(string)
	prod.srv.SetFaults("reject-object=ROLE:Employee Database Access")
	r := prod.do("POST", hubPrefix+"/deploys", strings.NewReader(`{"draftId":"`+draftID+`"}`), "application/json")
	if r.status != 202 {
		t.Fatalf("deploy: %d %s (draft %v)", r.status, r.body, prod.draftOf(id))
	}
	depID := decode[map[string]any](t, r.body)["jobId"].(string)
	var got map[string]any
	prod.getJSON(hubPrefix+"/deploys/"+depID, 200, &got)
	if got["status"] != spconfig.StatusFailed || !strings.Contains(got["message"].(string), "Employee Database Access") {
		t.Fatalf("deploy with a refused object: %v", got)
	}
	if after := prod.srv.Objects(""); !bytes.Equal(mustJSON(after), mustJSON(before)) {
		t.Fatal("a failed deploy changed the tenant")
	}
	prod.srv.SetFaults("fail-upload=1")
	failed := prod.upload(docOf("dev", ap), "fails")["jobId"].(string)
	prod.getJSON(hubPrefix+"/backups/uploads/"+failed, 200, &got)
	if got["status"] != spconfig.StatusFailed {
		t.Errorf("upload with fail-upload: %v", got)
	}
	prod.srv.SetFaults("")
	again, err := New(Options{StatePath: state, Now: prod.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	info := again.ConfigurationHub()
	if len(info.Uploads) != 2 || len(info.Drafts) != 1 || len(info.Deploys) != 1 || len(info.ScheduledActions) != 1 || info.Deploys[0].Status != spconfig.StatusFailed {
		t.Fatalf("hub after restart: %+v", info)
	}
	// The admin listing over HTTP.
	var viaHTTP HubInfo
	prod.getJSON("/_fake/configuration-hub", 200, &viaHTTP)
	if len(viaHTTP.Drafts) != 1 || viaHTTP.Drafts[0].SourceBackupID != id {
		t.Errorf("GET /_fake/configuration-hub: %+v", viaHTTP)
	}
}

// TestHubScheduledActionStartTime: a CREATE_DRAFT action runs at its start
// time, not at the next request: its draft is created then and completes a
// job delay later.
func TestHubScheduledActionStartTime(t *testing.T) {
	prod := start(t, "prod", func(o *Options) { o.JobDelay = 2 * time.Second })
	doc := docOf("prod", find(t, prod.srv.Objects("ROLE"), "ROLE", "Employee Database Access"))
	id := prod.upload(doc, "later")["jobId"].(string)
	prod.clock.Add(2 * time.Second)
	startAt := prod.clock.Now().Add(10 * time.Second)
	body := fmt.Sprintf(`{"jobType":"CREATE_DRAFT","startTime":%q,"cronString":"0 0 * * * *","content":{"name":"later","sourceBackupId":%q,"sourceTenant":%q}}`,
		startAt.Format(time.RFC3339), id, prod.srv.Name())
	if r := prod.do("POST", hubPrefix+"/scheduled-actions", strings.NewReader(body), "application/json"); r.status != 200 {
		t.Fatalf("schedule: %d %s", r.status, r.body)
	}
	prod.clock.Add(5 * time.Second)
	var drafts []map[string]any
	if prod.getJSON(hubPrefix+"/drafts", 200, &drafts); len(drafts) != 0 {
		t.Fatalf("draft before the start time: %v", drafts)
	}
	prod.clock.Add(20 * time.Second) // well past start + delay, first request since
	d := prod.draftOf(id)
	if d["status"] != spconfig.StatusComplete || d["created"] != fmtTime(startAt) {
		t.Fatalf("draft: %v, want COMPLETE created at %s", d, fmtTime(startAt))
	}
	prod.clock.Add(time.Hour)
	prod.token = prod.getToken("promoter", "promoter-secret")
	if prod.getJSON(hubPrefix+"/drafts", 200, &drafts); len(drafts) != 1 {
		t.Errorf("the cron string repeated the action: %d drafts", len(drafts))
	}
}

// TestHubCancel: POST /_fake/jobs/{id}/cancel cancels a deploy that is not
// done; it deploys nothing, and the client sees a *JobError-worthy CANCELLED.
func TestHubCancel(t *testing.T) {
	dev := start(t, "dev", nil)
	prod := start(t, "prod", func(o *Options) { o.JobDelay = 5 * time.Second })
	role := find(t, dev.srv.Objects("ROLE"), "ROLE", "Employee Database Access")
	before := prod.srv.Objects("ROLE")
	id := prod.upload(docOf("dev", role), "cancel me")["jobId"].(string)
	prod.clock.Add(5 * time.Second)
	prod.scheduleDraft(id)
	prod.clock.Add(5 * time.Second)
	draftID := prod.draftOf(id)["jobId"].(string)
	r := prod.do("POST", hubPrefix+"/deploys", strings.NewReader(`{"draftId":"`+draftID+`"}`), "application/json")
	dep := decode[map[string]any](t, r.body)["jobId"].(string)
	resp, err := http.Post(prod.srv.URL+"/_fake/jobs/"+dep+"/cancel", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("cancel: %v %v", resp, err)
	}
	info := decode[JobInfo](t, mustReadAll(t, resp))
	if info.Type != "CONFIG_DEPLOY_DRAFT" || info.Status != spconfig.StatusCancelled {
		t.Errorf("cancelled job: %+v", info)
	}
	prod.clock.Add(10 * time.Second)
	var got map[string]any
	prod.getJSON(hubPrefix+"/deploys/"+dep, 200, &got)
	if got["status"] != spconfig.StatusCancelled || got["message"] != msgCancelled {
		t.Errorf("deploy after cancel: %v", got)
	}
	if after := prod.srv.Objects("ROLE"); !bytes.Equal(mustJSON(after), mustJSON(before)) {
		t.Error("a cancelled deploy changed the tenant")
	}
	if _, err := prod.srv.CancelJob(dep); err == nil || !strings.Contains(err.Error(), "already CANCELLED") {
		t.Errorf("second cancel: %v", err)
	}
}

func mustReadAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
