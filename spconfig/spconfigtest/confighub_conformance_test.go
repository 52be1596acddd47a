package spconfigtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// hubRoot is ../testdata/confighub-root.yaml (shared with the client's
// OpenAPI test): the v2025 Configuration Hub path files this fake serves,
// mounted as the v2025 root mounts them.
func hubRoot(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/confighub-root.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestConformanceConfigurationHub drives every Configuration Hub endpoint
// under each version prefix and validates each response against the v2025
// fragments (the only Configuration Hub fragments in ../shared; the fake
// serves the same bodies under /beta, /v2024 and /v2026).
func TestConformanceConfigurationHub(t *testing.T) {
	dir := specDir(t)
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	spec, err := loader.LoadFromDataWithPath(hubRoot(t), &url.URL{Path: filepath.ToSlash(filepath.Join(dir, "hub-root.yaml"))})
	if err != nil {
		t.Fatalf("load Configuration Hub spec: %v", err)
	}
	if err := spec.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("Configuration Hub spec: %v", err)
	}
	for _, ver := range versionPrefixes {
		t.Run(strings.TrimPrefix(ver, "/"), func(t *testing.T) {
			lay := layout{name: ver, specBase: "/configuration-hub"}
			v := &validator{t: t, spec: spec, layout: lay, seen: map[string]bool{}}
			// The validator must reject what the spec forbids.
			bad := response{status: 200, header: http.Header{"Content-Type": {"application/json"}}, req: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}},
				body: []byte(`[{"jobId":"x","status":"DONE","approvalStatus":"MAYBE"}]`)}
			if err := v.validate(bad, "GET", "/drafts", nil); err == nil {
				t.Fatal("validator accepted a draft with statuses outside the enums")
			}
			dev := start(t, "dev", nil)
			f := start(t, "prod", func(o *Options) { o.RateLimit = 60; o.JobDelay = 2 * time.Second })
			P := ver + "/configuration-hub"
			role := find(t, dev.srv.Objects("ROLE"), "ROLE", "Employee Database Access")
			missing := find(t, dev.srv.Objects("ROLE"), "ROLE", "2 entitlement role")

			// uploads: 202, NOT_STARTED / IN_PROGRESS / COMPLETE, list, 400s
			body, ct := uploadBody(t, docOf("dev", role), "good")
			r := f.do("POST", P+"/backups/uploads", body, ct)
			v.check(r, "POST", "/backups/uploads", nil)
			good := decode[map[string]any](t, r.body)["jobId"].(string)
			body, ct = uploadBody(t, docOf("dev", missing), "missing owner")
			r = f.do("POST", P+"/backups/uploads", body, ct)
			bad1 := decode[map[string]any](t, r.body)["jobId"].(string)
			for range 3 {
				v.check(f.do("GET", P+"/backups/uploads/"+good, nil, ""), "GET", "/backups/uploads/{id}", map[string]string{"id": good})
				f.clock.Add(time.Second)
			}
			v.check(f.do("GET", P+"/backups/uploads", nil, ""), "GET", "/backups/uploads", nil)
			v.check(f.do("GET", P+"/backups/uploads?filters="+url.QueryEscape(`status eq "COMPLETE"`), nil, ""), "GET", "/backups/uploads", nil)
			v.check(f.do("GET", P+"/backups/uploads?filters="+url.QueryEscape(`name eq "x"`), nil, ""), "GET", "/backups/uploads", nil)
			body, ct = uploadBody(t, []byte("not json"), "x")
			v.check(f.do("POST", P+"/backups/uploads", body, ct), "POST", "/backups/uploads", nil)
			v.check(f.do("GET", P+"/backups/uploads/nope", nil, ""), "GET", "/backups/uploads/{id}", map[string]string{"id": "nope"})

			// scheduled actions and drafts
			var actions []string
			for _, id := range []string{good, bad1} {
				r = f.do("POST", P+"/scheduled-actions", strings.NewReader(fmt.Sprintf(
					`{"jobType":"CREATE_DRAFT","startTime":%q,"content":{"name":"promoter","sourceBackupId":%q,"sourceTenant":%q}}`,
					f.clock.Now().Format(time.RFC3339), id, f.srv.Name())), "application/json")
				v.check(r, "POST", "/scheduled-actions", nil)
				actions = append(actions, decode[map[string]any](t, r.body)["id"].(string))
			}
			v.check(f.do("POST", P+"/scheduled-actions", strings.NewReader(`{"jobType":"CREATE_DRAFT","content":{"name":"x"}}`), "application/json"), "POST", "/scheduled-actions", nil)
			v.check(f.do("GET", P+"/scheduled-actions", nil, ""), "GET", "/scheduled-actions", nil)
			sa := map[string]string{"scheduledActionId": actions[0]}
			v.check(f.do("PATCH", P+"/scheduled-actions/"+actions[0], strings.NewReader(`[{"op":"replace","path":"/content/name","value":"renamed"}]`), "application/json-patch+json"),
				"PATCH", "/scheduled-actions/{scheduledActionId}", sa)
			for range 3 {
				v.check(f.do("GET", P+"/drafts", nil, ""), "GET", "/drafts", nil)
				f.clock.Add(time.Second)
			}
			var drafts []map[string]any
			r = f.do("GET", P+"/drafts?filters="+url.QueryEscape(`status eq "COMPLETE"`), nil, "")
			v.check(r, "GET", "/drafts", nil)
			if err := json.Unmarshal(r.body, &drafts); err != nil || len(drafts) != 1 {
				t.Fatalf("complete drafts: %s", r.body)
			}
			draft := drafts[0]["jobId"].(string)
			f.setApproval(draft, "PENDING_APPROVAL")
			f.setApproval(draft, "APPROVED")
			v.check(f.do("GET", P+"/drafts?filters="+url.QueryEscape(`approvalStatus eq "APPROVED"`), nil, ""), "GET", "/drafts", nil)
			v.check(f.do("GET", P+"/drafts?filters="+url.QueryEscape(`sourceBackupId eq "x"`), nil, ""), "GET", "/drafts", nil)

			// deploys
			r = f.do("POST", P+"/deploys", strings.NewReader(`{"draftId":"`+draft+`"}`), "application/json")
			v.check(r, "POST", "/deploys", nil)
			dep := decode[map[string]any](t, r.body)["jobId"].(string)
			for range 3 {
				v.check(f.do("GET", P+"/deploys/"+dep, nil, ""), "GET", "/deploys/{id}", map[string]string{"id": dep})
				f.clock.Add(time.Second)
			}
			v.check(f.do("GET", P+"/deploys", nil, ""), "GET", "/deploys", nil)
			v.check(f.do("POST", P+"/deploys", strings.NewReader(`{"draftId":"nope"}`), "application/json"), "POST", "/deploys", nil)
			v.check(f.do("GET", P+"/deploys/nope", nil, ""), "GET", "/deploys/{id}", map[string]string{"id": "nope"})

			// deletes: 204 then 404
			for range 2 {
				v.check(f.do("DELETE", P+"/scheduled-actions/"+actions[0], nil, ""), "DELETE", "/scheduled-actions/{scheduledActionId}", sa)
				v.check(f.do("DELETE", P+"/drafts/"+draft, nil, ""), "DELETE", "/drafts/{id}", map[string]string{"id": draft})
				v.check(f.do("DELETE", P+"/backups/uploads/"+good, nil, ""), "DELETE", "/backups/uploads/{id}", map[string]string{"id": good})
			}

			// 401, injected 403 and 500, scope 403, 429
			tok := f.token
			f.token = ""
			v.check(f.do("GET", P+"/drafts", nil, ""), "GET", "/drafts", nil)
			f.token = tok
			for _, spec := range []string{"403=1", "500=1"} {
				f.srv.SetFaults(spec)
				v.check(f.do("GET", P+"/deploys", nil, ""), "GET", "/deploys", nil)
			}
			f.srv.SetFaults("")
			ro := start(t, "prod", func(o *Options) { o.Scopes = []string{"sp:config-backup:read"} })
			v.check(ro.do("POST", P+"/deploys", strings.NewReader(`{"draftId":"x"}`), "application/json"), "POST", "/deploys", nil)
			for range 80 {
				r = f.do("GET", P+"/scheduled-actions", nil, "")
				if r.status == http.StatusTooManyRequests {
					break
				}
			}
			v.check(r, "GET", "/scheduled-actions", nil)

			for _, want := range []string{
				"POST /backups/uploads Accepted", "POST /backups/uploads Bad Request", "GET /backups/uploads OK", "GET /backups/uploads Bad Request",
				"GET /backups/uploads/{id} OK", "GET /backups/uploads/{id} Not Found", "DELETE /backups/uploads/{id} No Content", "DELETE /backups/uploads/{id} Not Found",
				"POST /scheduled-actions OK", "POST /scheduled-actions Bad Request", "GET /scheduled-actions OK", "GET /scheduled-actions Too Many Requests",
				"PATCH /scheduled-actions/{scheduledActionId} OK", "DELETE /scheduled-actions/{scheduledActionId} No Content", "DELETE /scheduled-actions/{scheduledActionId} Not Found",
				"GET /drafts OK", "GET /drafts Bad Request", "GET /drafts Unauthorized", "DELETE /drafts/{id} No Content", "DELETE /drafts/{id} Not Found",
				"POST /deploys Accepted", "POST /deploys Bad Request", "POST /deploys Forbidden", "GET /deploys OK", "GET /deploys Forbidden", "GET /deploys Internal Server Error",
				"GET /deploys/{id} OK", "GET /deploys/{id} Not Found",
			} {
				if !v.seen[want] {
					t.Errorf("conformance never exercised %s", want)
				}
			}
		})
	}
}
