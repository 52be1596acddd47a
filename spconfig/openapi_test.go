package spconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// sharedDir returns ../shared next to the module root, or skips the test.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(shared); err != nil {
				t.Skipf("skipping: %s is absent (the OpenAPI fragments live there)", shared)
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Skip("skipping: no go.mod above the test directory")
	return ""
}

// validator validates every request against an OpenAPI document, then lets
// next answer it. It records each validation error.
type validator struct {
	router routers.Router
	next   http.HandlerFunc

	mu     sync.Mutex
	checks int
	errs   []string
}

func newValidator(t *testing.T, specFile string, next http.HandlerFunc) (*validator, func(serverURL string)) {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile(specFile)
	if err != nil {
		t.Fatalf("load %s: %v", specFile, err)
	}
	return newDocValidator(t, loader, doc, specFile, 7, next)
}

// newDocValidator is newValidator for a loaded document with wantPaths paths.
func newDocValidator(t *testing.T, loader *openapi3.Loader, doc *openapi3.T, specFile string, wantPaths int, next http.HandlerFunc) (*validator, func(serverURL string)) {
	t.Helper()
	// The per-service v1 document names the security scheme userAuth but does
	// not define it (the versioned roots do); define it as they do.
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = openapi3.SecuritySchemes{}
	}
	if _, ok := doc.Components.SecuritySchemes["userAuth"]; !ok {
		doc.Components.SecuritySchemes["userAuth"] = &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "oauth2",
			Flows: &openapi3.OAuthFlows{ClientCredentials: &openapi3.OAuthFlow{
				TokenURL: "https://example-tenant.api.identitynow.com/oauth/token",
				Scopes:   map[string]string{"sp:scopes:all": "access to all scopes"},
			}},
		}}
	}
	// Three defects of the upstream fragments fail kin-openapi's strict document
	// validation, both outside what a request is checked against: the v1
	// import's preview example is the string "true" for a boolean, and
	// SpConfigRule.value has an anyOf member "type: array" without items.
	// Skip example checks and give such arrays an empty items schema in memory.
	patched := patchArraysWithoutItems(doc)
	if err := doc.Validate(loader.Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("validate %s: %v", specFile, err)
	}
	if patched > 4 {
		t.Fatalf("%s: %d array schemas without items, expected only the known SpConfigRule.value", specFile, patched)
	}
	if len(doc.Paths.Map()) != wantPaths {
		t.Fatalf("%s has %d paths, want %d", specFile, len(doc.Paths.Map()), wantPaths)
	}
	// The multipart import body is decoded part by part: "data" as a file,
	// "options" as JSON checked against ImportOptions.
	if openapi3filter.RegisteredBodyDecoder("multipart/form-data") == nil {
		openapi3filter.RegisterBodyDecoder("multipart/form-data", openapi3filter.MultipartBodyDecoder)
	}
	v := &validator{next: next}
	// The spec's servers are the real tenant hosts; mount its paths on the
	// test server instead, keeping each server URL's path (e.g. /v2025).
	setServer := func(serverURL string) {
		var servers openapi3.Servers
		for _, s := range doc.Servers {
			path := ""
			if i := strings.Index(s.URL, "}"); i >= 0 {
				rest := s.URL[i+1:]
				if j := strings.Index(rest, "/"); j >= 0 {
					path = rest[j:]
				}
			}
			servers = append(servers, &openapi3.Server{URL: serverURL + path})
		}
		doc.Servers = servers
		r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
		if err != nil {
			t.Fatalf("router: %v", err)
		}
		v.router = r
	}
	return v, setServer
}

// patchArraysWithoutItems gives every array schema without items an empty
// items schema and returns how many it patched.
func patchArraysWithoutItems(doc *openapi3.T) int {
	seen := map[*openapi3.Schema]bool{}
	n := 0
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Type.Is("array") && s.Items == nil {
			s.Items = &openapi3.SchemaRef{Value: &openapi3.Schema{}}
			n++
		}
		walk(s.Items)
		walk(s.Not)
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.AdditionalProperties.Schema)
		for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, r := range list {
				walk(r)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
	return n
}

func (v *validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := v.validate(r)
	v.mu.Lock()
	v.checks++
	if err != nil {
		v.errs = append(v.errs, r.Method+" "+r.URL.Path+": "+err.Error())
	}
	v.mu.Unlock()
	if err != nil {
		msg, _ := json.Marshal("request does not match the OpenAPI document: " + err.Error())
		writeJSON(w, 400, `{"detailCode":"400.0 Bad Request","messages":[{"text":`+string(msg)+`}]}`)
		return
	}
	v.next(w, r)
}

func (v *validator) validate(r *http.Request) error {
	// A server-side request has only the path in URL; the router matches
	// the whole URL against the servers.
	if r.URL.Host == "" {
		r.URL.Scheme, r.URL.Host = "http", r.Host
	}
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("no route: %w", err)
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				if ai.SecurityScheme.Type != "oauth2" {
					return fmt.Errorf("unexpected security scheme %q", ai.SecurityScheme.Type)
				}
				if !strings.HasPrefix(ai.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
					return errors.New("no bearer token")
				}
				return nil
			},
		},
	}
	err = openapi3filter.ValidateRequest(r.Context(), in)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return err
}

func (v *validator) results() (int, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.checks, append([]string(nil), v.errs...)
}

// TestRequestsMatchOpenAPI runs every operation of the client against a
// tenant that validates each request against the official OpenAPI fragments
// (v2025 assembled root and the /sp-config/v1 layout) before answering. Raw
// requests that break the contract prove the validator really checks.
func TestRequestsMatchOpenAPI(t *testing.T) {
	shared := sharedDir(t)
	for _, tc := range []struct {
		version, spec string
	}{
		{"v2025", "spec/sailpoint/api-specs/idn/sp-config.v2025.assembled.yaml"},
		{"v1", "spec/sailpoint/api-specs/idn/apis/sp-config/openapi.yaml"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			v, setServer := newValidator(t, filepath.Join(shared, tc.spec), okAPI(t))
			tt := newTestTenant(t, v.ServeHTTP)
			setServer(tt.srv.URL)
			c := tt.client(func(c *Config) { c.APIVersion = tc.version })

			runAllOps(t, c)
			checks, errs := v.results()
			if checks != 8 || len(errs) != 0 {
				t.Fatalf("%d requests validated, errors:\n%s", checks, strings.Join(errs, "\n"))
			}

			// Negative controls, sent raw: each must be rejected.
			prefix := tt.srv.URL + c.prefix
			exportBody := `{"includeTypes":["NOT_A_TYPE"]}`
			bad := []struct {
				name string
				req  func() *http.Request
			}{
				{"export with unknown type", func() *http.Request {
					r, _ := http.NewRequest("POST", prefix+"/export", strings.NewReader(exportBody))
					r.Header.Set("Content-Type", "application/json")
					return r
				}},
				{"import without data part", func() *http.Request {
					return multipartRequest(t, prefix+"/import?preview=true", map[string]string{"options": `{"excludeBackup":true}`})
				}},
				{"import options with a non-importable type", func() *http.Request {
					return multipartRequest(t, prefix+"/import?preview=true", map[string]string{"data": `{"objects":[]}`, "options": `{"includeTypes":["ROLE"]}`})
				}},
				{"import with preview not boolean", func() *http.Request {
					return multipartRequest(t, prefix+"/import?preview=maybe", map[string]string{"data": `{"objects":[]}`})
				}},
			}
			for _, b := range bad {
				r := b.req()
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
			// Each was rejected for the reason it was built to show.
			_, errs = v.results()
			wantReasons := []string{`"/includeTypes/0": value is not one of the allowed values`, `"/data": property "data" is missing`,
				`"/options/includeTypes/0": value is not one of the allowed values`, `parameter "preview" in query has an error`}
			if len(errs) != len(wantReasons) {
				t.Fatalf("validation errors:\n%s\nwant %d", strings.Join(errs, "\n"), len(wantReasons))
			}
			for i, want := range wantReasons {
				if !strings.Contains(errs[i], want) {
					t.Errorf("%s: rejected with %q, want %q", bad[i].name, errs[i], want)
				}
			}
			// And one request without a token.
			r, _ := http.NewRequest("GET", prefix+"/config-objects", nil)
			r.Header.Set("Authorization", "Bearer tok-1")
			if err := v.validate(r); err != nil {
				t.Errorf("control request with a token rejected: %v", err)
			}
			r.Header.Del("Authorization")
			if err := v.validate(r); err == nil {
				t.Error("request without a token validated")
			}
		})
	}
}

func multipartRequest(t *testing.T, url string, parts map[string]string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range []string{"data", "options"} {
		body, ok := parts[name]
		if !ok {
			continue
		}
		h := textproto.MIMEHeader{}
		if name == "data" {
			h.Set("Content-Disposition", `form-data; name="data"; filename="import.json"`)
		} else {
			h.Set("Content-Disposition", `form-data; name="options"`)
		}
		h.Set("Content-Type", "application/json")
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, body)
	}
	_ = mw.Close()
	r, err := http.NewRequest("POST", url, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return r
}
