package spconfigtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"promoter/spconfig"
)

// specDir finds ../shared/spec/sailpoint/api-specs/idn relative to the module root.
func specDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "..", "shared", "spec", "sailpoint", "api-specs", "idn")
			if _, err := os.Stat(p); err != nil {
				t.Skipf("OpenAPI fragments not found at %s (../shared is absent): %v", p, err)
			}
			return p
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("go.mod not found above the test directory")
	return ""
}

// betaRoot mounts the seven beta path files, as idn/sailpoint-api.beta.yaml does.
const betaRoot = `openapi: 3.0.1
info: {title: beta SP-Config subset (test), version: beta}
paths:
  /sp-config/export: {$ref: ./beta/paths/sp-config-export.yaml}
  /sp-config/export/{id}: {$ref: ./beta/paths/sp-config-export-status.yaml}
  /sp-config/export/{id}/download: {$ref: ./beta/paths/sp-config-export-download.yaml}
  /sp-config/import: {$ref: ./beta/paths/sp-config-import.yaml}
  /sp-config/import/{id}: {$ref: ./beta/paths/sp-config-import-status.yaml}
  /sp-config/import/{id}/download: {$ref: ./beta/paths/sp-config-import-download.yaml}
  /sp-config/config-objects: {$ref: ./beta/paths/sp-config-objects.yaml}
`

type layout struct {
	name     string
	prefix   string // what the fake serves
	specBase string // path prefix in the spec document
	load     func(l *openapi3.Loader, dir string) (*openapi3.T, error)
}

var layouts = []layout{
	{"v2025", "/v2025/sp-config", "/sp-config", func(l *openapi3.Loader, dir string) (*openapi3.T, error) {
		return l.LoadFromFile(filepath.Join(dir, "sp-config.v2025.assembled.yaml"))
	}},
	// v2024 and v2026 serve schemas byte-identical to v2025 (spec README).
	{"v2024", "/v2024/sp-config", "/sp-config", func(l *openapi3.Loader, dir string) (*openapi3.T, error) {
		return l.LoadFromFile(filepath.Join(dir, "sp-config.v2025.assembled.yaml"))
	}},
	{"v2026", "/v2026/sp-config", "/sp-config", func(l *openapi3.Loader, dir string) (*openapi3.T, error) {
		return l.LoadFromFile(filepath.Join(dir, "sp-config.v2025.assembled.yaml"))
	}},
	{"beta", "/beta/sp-config", "/sp-config", func(l *openapi3.Loader, dir string) (*openapi3.T, error) {
		return l.LoadFromDataWithPath([]byte(betaRoot), &url.URL{Path: filepath.ToSlash(filepath.Join(dir, "beta-root.yaml"))})
	}},
	{"sp-config-v1", "/sp-config/v1", "/sp-config/v1", func(l *openapi3.Loader, dir string) (*openapi3.T, error) {
		return l.LoadFromFile(filepath.Join(dir, "apis", "sp-config", "openapi.yaml"))
	}},
}

// validator checks every response of a fixture against one layout's spec.
type validator struct {
	t      *testing.T
	spec   *openapi3.T
	layout layout
	seen   map[string]bool // "METHOD template status" validated
}

func (v *validator) check(r response, method, template string, params map[string]string) {
	v.t.Helper()
	if template == "/import/{id}/download" && r.status == http.StatusOK {
		r.body = v.schemaMessages(r.body)
	}
	if err := v.validate(r, method, template, params); err != nil {
		v.t.Errorf("%s %s %s -> %d does not conform: %v\nbody: %.600s", v.layout.name, method, template, r.status, err, r.body)
	}
	v.seen[method+" "+template+" "+http.StatusText(r.status)] = true
}

// schemaMessages checks that the messages of an import result have the shape
// real tenants send ("key" string or null, "detail" singular, object or null,
// no "details") and returns the body with them in the schema's shape, the one
// documented deviation, so the rest is validated against the spec.
func (v *validator) schemaMessages(body []byte) []byte {
	v.t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		v.t.Errorf("import results: %v: %.300s", err, body)
		return body
	}
	results, _ := doc["results"].(map[string]any)
	for typ, r := range results {
		r, _ := r.(map[string]any)
		for _, kind := range []string{"infos", "warnings", "errors"} {
			ms, _ := r[kind].([]any)
			for i, m := range ms {
				m, _ := m.(map[string]any)
				key, hasKey := m["key"]
				detail, hasDetail := m["detail"]
				_, hasDetails := m["details"]
				if _, isStr := key.(string); !hasKey || !(key == nil || isStr) || !hasDetail || hasDetails {
					v.t.Errorf("%s %s[%d] = %v, want the real shape {key: string or null, text, detail}", typ, kind, i, m)
				}
				if key == nil {
					m["key"] = ""
				}
				if detail == nil {
					detail = map[string]any{}
				}
				m["details"] = detail
				delete(m, "detail")
			}
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

func (v *validator) validate(r response, method, template string, params map[string]string) error {
	v.t.Helper()
	specPath := v.layout.specBase + template
	item := v.spec.Paths.Find(specPath)
	if item == nil {
		v.t.Fatalf("%s: spec has no path %s", v.layout.name, specPath)
	}
	op := item.GetOperation(method)
	if op == nil {
		v.t.Fatalf("%s: spec has no %s %s", v.layout.name, method, specPath)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r.req, PathParams: params,
			Route: &routers.Route{Spec: v.spec, Path: specPath, PathItem: item, Method: method, Operation: op},
		},
		Status:  r.status,
		Header:  r.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// TestConformance drives every endpoint under each layout with real HTTP and
// validates each response (status and body) against the OpenAPI fragments.
func TestConformance(t *testing.T) {
	dir := specDir(t)
	for _, lay := range layouts {
		t.Run(lay.name, func(t *testing.T) {
			loader := openapi3.NewLoader()
			loader.IsExternalRefsAllowed = true
			spec, err := lay.load(loader, dir)
			if err != nil {
				t.Fatalf("load %s spec: %v", lay.name, err)
			}
			if err := spec.Validate(loader.Context); err != nil {
				t.Logf("%s spec does not fully validate (kept anyway): %v", lay.name, err)
			}
			v := &validator{t: t, spec: spec, layout: lay, seen: map[string]bool{}}
			// The validator must reject what the spec forbids, or this test proves nothing.
			bad := response{status: 200, header: http.Header{"Content-Type": {"application/json"}}, req: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}},
				body: []byte(`{"results":{"SOURCE":{"infos":[{"key":"K"}],"warnings":[],"errors":[],"importedObjects":[{"type":"ROLE"}]}}}`)}
			if err := v.validate(bad, "GET", "/import/{id}/download", map[string]string{"id": "x"}); err == nil {
				t.Fatal("validator accepted an import result without text/details and with a non-importable type")
			}
			bad.status = 418
			bad.body = []byte(`{}`)
			if err := v.validate(bad, "GET", "/config-objects", nil); err == nil {
				t.Fatal("validator accepted an undeclared status")
			}
			f := start(t, "dev", func(o *Options) { o.RateLimit = 40; o.JobDelay = 2 * time.Second })
			f.prefix = lay.prefix
			P := lay.prefix

			// config-objects
			v.check(f.do("GET", P+"/config-objects", nil, ""), "GET", "/config-objects", nil)

			// export: 202, status NOT_STARTED / IN_PROGRESS / COMPLETE, download
			r := f.do("POST", P+"/export", strings.NewReader(`{"description":"all","excludeTypes":[],"includeTypes":[],"objectOptions":{}}`), "application/json")
			v.check(r, "POST", "/export", nil)
			ej := decode[spconfig.Job](t, r.body)
			id := map[string]string{"id": ej.JobID}
			v.check(f.do("GET", P+"/export/"+ej.JobID+"/download", nil, ""), "GET", "/export/{id}/download", id) // 400: not done
			f.clock.Add(time.Second)
			v.check(f.do("GET", P+"/export/"+ej.JobID, nil, ""), "GET", "/export/{id}", id)
			f.clock.Add(2 * time.Second)
			r = f.do("GET", P+"/export/"+ej.JobID, nil, "")
			v.check(r, "GET", "/export/{id}", id)
			if j := decode[spconfig.Job](t, r.body); j.Status != spconfig.StatusComplete {
				t.Fatalf("export status %s, want COMPLETE", j.Status)
			}
			r = f.do("GET", P+"/export/"+ej.JobID+"/download", nil, "")
			v.check(r, "GET", "/export/{id}/download", id)
			export := r.body

			// failed export (unknown type) status and download
			r = f.do("POST", P+"/export", strings.NewReader(`{"includeTypes":["NOPE"]}`), "application/json")
			v.check(r, "POST", "/export", nil)
			fj := decode[spconfig.Job](t, r.body)
			f.clock.Add(3 * time.Second)
			v.check(f.do("GET", P+"/export/"+fj.JobID, nil, ""), "GET", "/export/{id}", map[string]string{"id": fj.JobID})
			// bad export payload
			v.check(f.do("POST", P+"/export", strings.NewReader(`{"includeTypes":`), "application/json"), "POST", "/export", nil)

			// import preview and real import of the whole own export
			for _, preview := range []bool{true, false} {
				body, ct := multipartBody(t, export, []byte(`{"includeTypes":["TRANSFORM","RULE"],"excludeBackup":false}`))
				r = f.do("POST", P+"/import?preview="+map[bool]string{true: "true", false: "false"}[preview], body, ct)
				v.check(r, "POST", "/import", nil)
				ij := decode[spconfig.Job](t, r.body)
				iid := map[string]string{"id": ij.JobID}
				f.clock.Add(3 * time.Second)
				r = f.do("GET", P+"/import/"+ij.JobID, nil, "")
				v.check(r, "GET", "/import/{id}", iid)
				r = f.do("GET", P+"/import/"+ij.JobID+"/download", nil, "")
				v.check(r, "GET", "/import/{id}/download", iid)
				if res := decode[spconfig.ImportResults](t, r.body); len(res.Results) == 0 {
					t.Errorf("import results empty: %s", r.body)
				}
			}
			// a failing real import (non-importable type): FAILED status + results
			body, ct := multipartBody(t, export, nil)
			r = f.do("POST", P+"/import", body, ct)
			ij := decode[spconfig.Job](t, r.body)
			f.clock.Add(3 * time.Second)
			r = f.do("GET", P+"/import/"+ij.JobID, nil, "")
			v.check(r, "GET", "/import/{id}", map[string]string{"id": ij.JobID})
			if j := decode[spconfig.Job](t, r.body); j.Status != spconfig.StatusFailed {
				t.Errorf("import of non-importable types: status %s, want FAILED", j.Status)
			}
			v.check(f.do("GET", P+"/import/"+ij.JobID+"/download", nil, ""), "GET", "/import/{id}/download", map[string]string{"id": ij.JobID})

			// 400: data missing, data not JSON
			body, ct = multipartBody(t, nil, []byte(`{}`))
			v.check(f.do("POST", P+"/import", body, ct), "POST", "/import", nil)
			body, ct = multipartBody(t, []byte("not json"), nil)
			v.check(f.do("POST", P+"/import", body, ct), "POST", "/import", nil)

			// 404 unknown jobs
			nid := map[string]string{"id": "nope"}
			for _, tmpl := range []string{"/export/{id}", "/export/{id}/download", "/import/{id}", "/import/{id}/download"} {
				v.check(f.do("GET", P+strings.ReplaceAll(tmpl, "{id}", "nope"), nil, ""), "GET", tmpl, nid)
			}

			// 401: missing and expired token
			tok := f.token
			f.token = ""
			v.check(f.do("GET", P+"/config-objects", nil, ""), "GET", "/config-objects", nil)
			f.token = tok
			f.clock.Add(13 * time.Minute)
			v.check(f.do("GET", P+"/config-objects", nil, ""), "GET", "/config-objects", nil)
			f.token = f.getToken("promoter", "promoter-secret")

			// 429 and injected 403 and 500
			for _, spec := range []string{"403=1", "500=1"} {
				if err := f.srv.SetFaults(spec); err != nil {
					t.Fatal(err)
				}
				v.check(f.do("GET", P+"/config-objects", nil, ""), "GET", "/config-objects", nil)
			}
			f.srv.SetFaults("")

			// a real import that halts half way (reject-object): FAILED, importedObjects beside the error
			f.srv.SetFaults("reject-object=RULE:Email Correlation")
			body, ct = multipartBody(t, export, []byte(`{"includeTypes":["TRANSFORM","RULE"]}`))
			r = f.do("POST", P+"/import", body, ct)
			hj := decode[spconfig.Job](t, r.body)
			f.clock.Add(3 * time.Second)
			v.check(f.do("GET", P+"/import/"+hj.JobID, nil, ""), "GET", "/import/{id}", map[string]string{"id": hj.JobID})
			r = f.do("GET", P+"/import/"+hj.JobID+"/download", nil, "")
			v.check(r, "GET", "/import/{id}/download", map[string]string{"id": hj.JobID})
			if res := decode[spconfig.ImportResults](t, r.body); len(res.Results["RULE"].ImportedObjects) == 0 || len(res.Results["RULE"].Errors) != 1 || res.ExportJobID == "" {
				t.Errorf("partial import results: %s", r.body)
			}
			f.srv.SetFaults("")
			for range 50 {
				r = f.do("GET", P+"/export/"+ej.JobID, nil, "")
				if r.status == http.StatusTooManyRequests {
					break
				}
			}
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("no 429 after 50 requests with RateLimit 40")
			}
			v.check(r, "GET", "/export/{id}", id)

			for _, want := range []string{
				"GET /config-objects OK", "POST /export Accepted", "POST /export Bad Request", "GET /export/{id} OK",
				"GET /export/{id}/download OK", "GET /export/{id}/download Bad Request", "POST /import Accepted",
				"POST /import Bad Request", "GET /import/{id} OK", "GET /import/{id}/download OK",
				"GET /import/{id} Not Found", "GET /config-objects Unauthorized", "GET /config-objects Internal Server Error",
				"GET /config-objects Forbidden",
				"GET /export/{id} Too Many Requests",
			} {
				if !v.seen[want] {
					t.Errorf("conformance never exercised %s", want)
				}
			}
		})
	}
}
