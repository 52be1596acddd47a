package spconfig

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// hubRoot is testdata/confighub-root.yaml: the v2025 Configuration Hub
// path files the client calls, mounted as the v2025 root mounts them.
func hubRoot(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/confighub-root.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hubAPI answers every Configuration Hub call with a canned valid body; the
// draft list holds a draft of up-1 only while a scheduled action exists.
func hubAPI() http.HandlerFunc {
	var mu sync.Mutex
	scheduled := false
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		serveHubCanned(w, r, &scheduled)
	}
}

func serveHubCanned(w http.ResponseWriter, r *http.Request, scheduled *bool) {
	p := r.URL.Path
	upload := `{"jobId":"up-1","status":"COMPLETE","type":"BACKUP","tenant":"acme","name":"n","backupType":"UPLOADED"}`
	switch {
	case r.Method == http.MethodDelete:
		if strings.Contains(p, "/scheduled-actions/") {
			*scheduled = false
		}
		w.WriteHeader(http.StatusNoContent)
	case strings.HasSuffix(p, "/backups/uploads") && r.Method == http.MethodPost:
		writeJSON(w, 202, upload)
	case strings.HasSuffix(p, "/backups/uploads"):
		writeJSON(w, 200, "["+upload+"]")
	case strings.Contains(p, "/backups/uploads/"):
		writeJSON(w, 200, upload)
	case strings.HasSuffix(p, "/scheduled-actions") && r.Method == http.MethodPost:
		*scheduled = true
		writeJSON(w, 200, `{"id":"sa-1","jobType":"CREATE_DRAFT","content":{"name":"n"}}`)
	case strings.HasSuffix(p, "/scheduled-actions"):
		writeJSON(w, 200, `[]`)
	case strings.HasSuffix(p, "/drafts") && !*scheduled:
		writeJSON(w, 200, `[]`)
	case strings.HasSuffix(p, "/drafts"):
		writeJSON(w, 200, `[{"jobId":"dr-1","status":"COMPLETE","type":"CREATE_DRAFT","sourceBackupId":"up-1","approvalStatus":"DEFAULT"}]`)
	case strings.HasSuffix(p, "/deploys") && r.Method == http.MethodPost:
		writeJSON(w, 202, `{"jobId":"dep-1","status":"NOT_STARTED","type":"CONFIG_DEPLOY_DRAFT","draftId":"dr-1"}`)
	case strings.HasSuffix(p, "/deploys"):
		writeJSON(w, 200, `{"items":[]}`)
	case strings.Contains(p, "/deploys/"):
		writeJSON(w, 200, `{"jobId":"dep-1","status":"COMPLETE","type":"CONFIG_DEPLOY_DRAFT","draftId":"dr-1"}`)
	default:
		writeJSON(w, 404, `{"detailCode":"404 Not found","messages":[{"text":"no such path"}]}`)
	}
}

// TestHubRequestsMatchOpenAPI runs every Configuration Hub call of the client
// against a tenant that validates each request (path, method, parameters,
// multipart and JSON bodies, token) against the v2025 fragments. Raw requests
// that break the contract prove the validator checks.
func TestHubRequestsMatchOpenAPI(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "spec", "sailpoint", "api-specs", "idn")
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	root := filepath.Join(dir, "hub-root.yaml")
	doc, err := loader.LoadFromDataWithPath(hubRoot(t), &url.URL{Path: filepath.ToSlash(root)})
	if err != nil {
		t.Fatalf("load Configuration Hub spec: %v", err)
	}
	v, setServer := newDocValidator(t, loader, doc, root, 8, hubAPI())
	tt := newTestTenant(t, v.ServeHTTP)
	setServer(tt.srv.URL)
	c := tt.client(func(c *Config) { c.APIVersion = "v2025" })
	ctx := context.Background()
	data := []byte(`{"version":1,"tenant":"dev","objects":[]}`)

	ops := []struct {
		name string
		call func() error
	}{
		{"StartUpload", func() error { _, err := c.StartUpload(ctx, data, "promoter upload"); return err }},
		{"UploadStatus", func() error { _, err := c.UploadStatus(ctx, "up-1"); return err }},
		{"Uploads", func() error { _, err := c.Uploads(ctx); return err }},
		{"CreateScheduledAction", func() error {
			now := Time{c.now()}
			_, err := c.CreateScheduledAction(ctx, ScheduledActionPayload{JobType: "CREATE_DRAFT", StartTime: &now,
				Content: ScheduledActionContent{Name: "promoter", SourceBackupID: "up-1", SourceTenant: "acme"}})
			return err
		}},
		{"ScheduledActions", func() error { _, err := c.ScheduledActions(ctx); return err }},
		{"DeleteScheduledAction", func() error { return c.DeleteScheduledAction(ctx, "sa-1") }},
		{"Drafts", func() error { _, err := c.Drafts(ctx); return err }},
		{"DeleteDraft", func() error { return c.DeleteDraft(ctx, "dr-1") }},
		{"StartDeploy", func() error { _, err := c.StartDeploy(ctx, "dr-1"); return err }},
		{"DeployStatus", func() error { _, err := c.DeployStatus(ctx, "dep-1"); return err }},
		{"Deploys", func() error { _, err := c.Deploys(ctx); return err }},
		{"DeleteUpload", func() error { return c.DeleteUpload(ctx, "up-1") }},
	}
	for _, op := range ops {
		if err := op.call(); err != nil {
			t.Errorf("%s: %v", op.name, err)
		}
	}
	if checks, errs := v.results(); checks != len(ops) || len(errs) != 0 {
		t.Fatalf("%d requests validated (want %d), errors:\n%s", checks, len(ops), strings.Join(errs, "\n"))
	}
	// And CreateDraft, which chains five of them: upload status, drafts,
	// scheduled action, drafts, delete of the action.
	before, _ := v.results()
	if _, err := c.CreateDraft(ctx, "up-1", WaitOptions{}); err != nil {
		t.Fatalf("CreateDraft: %v", err)
	}
	if checks, errs := v.results(); checks != before+5 || len(errs) != 0 {
		t.Fatalf("CreateDraft: %d requests validated, errors:\n%s", checks-before, strings.Join(errs, "\n"))
	}

	// Negative controls, sent raw: each must be rejected.
	prefix := tt.srv.URL + c.hubPrefix
	bad := []struct {
		name, method, path, ct, body, reason string
	}{
		{"upload without name", "POST", "/backups/uploads", "multipart", "data", `property "name" is missing`},
		{"scheduled action with unknown jobType", "POST", "/scheduled-actions", "application/json", `{"jobType":"NOPE","content":{"name":"x"}}`, "value is not one of the allowed values"},
		{"scheduled action without content", "POST", "/scheduled-actions", "application/json", `{"jobType":"CREATE_DRAFT"}`, `property "content" is missing`},
		{"deploy without draftId", "POST", "/deploys", "application/json", `{}`, `property "draftId" is missing`},
	}
	_, before0 := v.results()
	for _, b := range bad {
		var r *http.Request
		if b.ct == "multipart" {
			r = multipartRequest(t, prefix+b.path, map[string]string{"data": string(data)})
		} else {
			r, _ = http.NewRequest(b.method, prefix+b.path, strings.NewReader(b.body))
			r.Header.Set("Content-Type", b.ct)
		}
		r.Header.Set("Authorization", "Bearer tok-1")
		resp, err := tt.srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want the validator to reject it", b.name, resp.StatusCode)
		}
	}
	_, errs := v.results()
	errs = errs[len(before0):]
	if len(errs) != len(bad) {
		t.Fatalf("validation errors:\n%s\nwant %d", strings.Join(errs, "\n"), len(bad))
	}
	for i, b := range bad {
		if !strings.Contains(errs[i], b.reason) {
			t.Errorf("%s: rejected with %q, want %q", b.name, errs[i], b.reason)
		}
	}
}
