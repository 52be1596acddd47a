package spconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewValidatesConfig(t *testing.T) {
	ok := Config{BaseURL: "https://acme.api.identitynow.com", ClientID: "id", ClientSecret: "secret"}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"trailing slash", func(c *Config) { c.BaseURL += "/" }, ""},
		{"http loopback v4", func(c *Config) { c.BaseURL = "http://127.0.0.1:8080" }, ""},
		{"http loopback v6", func(c *Config) { c.BaseURL = "http://[::1]:8080" }, ""},
		{"http localhost", func(c *Config) { c.BaseURL = "http://localhost:8080" }, ""},
		{"http remote", func(c *Config) { c.BaseURL = "http://acme.api.identitynow.com" }, "not loopback"},
		{"http token url remote", func(c *Config) { c.TokenURL = "http://auth.example.com/oauth/token" }, "tokenURL"},
		{"ftp", func(c *Config) { c.BaseURL = "ftp://acme" }, "scheme must be https"},
		{"version in base", func(c *Config) { c.BaseURL = "https://acme.api.identitynow.com/v2025" }, "apiVersion"},
		{"no host", func(c *Config) { c.BaseURL = "acme.api.identitynow.com" }, "no host"},
		{"empty base", func(c *Config) { c.BaseURL = "" }, "baseURL is empty"},
		{"credentials in url", func(c *Config) { c.BaseURL = "https://u:p@acme.api.identitynow.com" }, "credentials"},
		{"bad version", func(c *Config) { c.APIVersion = "v3" }, `apiVersion "v3"`},
		{"beta", func(c *Config) { c.APIVersion = "beta" }, ""},
		{"v1", func(c *Config) { c.APIVersion = "v1" }, ""},
		{"v2026", func(c *Config) { c.APIVersion = "v2026" }, ""},
		{"no client id", func(c *Config) { c.ClientID = " " }, "clientID is empty"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "clientSecret is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			c, err := New(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.http == nil || c.maxRetries != DefaultMaxRetries || c.waitMin != DefaultRetryWaitMin || c.waitMax != DefaultRetryWaitMax || c.limiter.n != DefaultRateLimit || c.limiter.window != DefaultRateWindow {
					t.Errorf("defaults not applied: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret\"") || strings.Contains(err.Error(), ":p@") {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Config{BaseURL: "https://acme.api.identitynow.com/", ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.auth.tokenURL, "https://acme.api.identitynow.com/oauth/token"; got != want {
		t.Errorf("token URL = %q, want %q", got, want)
	}
	if got, want := c.prefix, "/v2025/sp-config"; got != want {
		t.Errorf("prefix = %q, want %q", got, want)
	}
	if c.http.Timeout == 0 || c.http.Transport.(*http.Transport).TLSClientConfig != nil && c.http.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify {
		t.Errorf("default HTTP client lacks a timeout or skips TLS verification")
	}
	c, err = New(Config{BaseURL: "https://acme.api.identitynow.com", ClientID: "id", ClientSecret: "secret", MaxRetries: -1})
	if err != nil || c.maxRetries != 0 {
		t.Errorf("MaxRetries -1: got %d, %v; want 0 retries", c.maxRetries, err)
	}
}

// okAPI answers every operation with a plausible body.
func okAPI(t *testing.T) http.HandlerFunc {
	export, err := os.ReadFile("testdata/export.json")
	if err != nil {
		t.Fatal(err)
	}
	results, err := os.ReadFile("testdata/import-results.json")
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/config-objects"):
			writeJSON(w, 200, `[{"objectType":"SOURCE","referenceExtractors":["$.owner"],"signatureRequired":false,"alwaysResolveById":false,"legacyObject":false,"onePerTenant":false,"exportable":true,"rules":{"takeFromTargetRules":[],"defaultRules":[],"editable":true}}]`)
		case r.Method == http.MethodPost && strings.HasSuffix(p, "/export"):
			writeJSON(w, 202, job("exp-1", "NOT_STARTED", "EXPORT"))
		case r.Method == http.MethodPost && strings.HasSuffix(p, "/import"):
			writeJSON(w, 202, job("imp-1", "NOT_STARTED", "IMPORT"))
		case strings.HasSuffix(p, "/export/exp-1/download"):
			writeJSON(w, 200, string(export))
		case strings.HasSuffix(p, "/import/imp-1/download"):
			writeJSON(w, 200, string(results))
		case strings.HasSuffix(p, "/export/exp-1"):
			writeJSON(w, 200, job("exp-1", "COMPLETE", "EXPORT"))
		case strings.HasSuffix(p, "/import/imp-1"):
			writeJSON(w, 200, job("imp-1", "COMPLETE", "IMPORT"))
		default:
			writeJSON(w, 404, `{"detailCode":"404 Not found","trackingId":"t404","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"no such path"}]}`)
		}
	}
}

// runAllOps calls each of the seven operations once.
func runAllOps(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.ConfigObjects(ctx); err != nil {
		t.Fatalf("ConfigObjects: %v", err)
	}
	if _, err := c.StartExport(ctx, ExportPayload{Description: "d", IncludeTypes: []string{"SOURCE", "RULE"}, ObjectOptions: map[string]ObjectOptions{"SOURCE": {IncludedNames: []string{"AD"}}}}); err != nil {
		t.Fatalf("StartExport: %v", err)
	}
	if _, err := c.ExportStatus(ctx, "exp-1"); err != nil {
		t.Fatalf("ExportStatus: %v", err)
	}
	if _, err := c.DownloadExport(ctx, "exp-1", func(int, Entry) error { return nil }); err != nil {
		t.Fatalf("DownloadExport: %v", err)
	}
	data, _ := os.ReadFile("testdata/export.json")
	if _, err := c.StartImport(ctx, data, &ImportOptions{IncludeTypes: []string{"SOURCE"}, DefaultReferences: []string{"RULE"}, ExcludeBackup: true}, true); err != nil {
		t.Fatalf("StartImport: %v", err)
	}
	if _, err := c.StartImport(ctx, data, nil, false); err != nil {
		t.Fatalf("StartImport without options: %v", err)
	}
	if _, err := c.ImportStatus(ctx, "imp-1"); err != nil {
		t.Fatalf("ImportStatus: %v", err)
	}
	if _, err := c.DownloadImport(ctx, "imp-1"); err != nil {
		t.Fatalf("DownloadImport: %v", err)
	}
}

func TestPathsPerVersion(t *testing.T) {
	suffixes := []string{"/config-objects", "/export", "/export/exp-1", "/export/exp-1/download", "/import", "/import", "/import/imp-1", "/import/imp-1/download"}
	methods := []string{"GET", "POST", "GET", "GET", "POST", "POST", "GET", "GET"}
	for _, tc := range []struct{ version, prefix string }{
		{"", "/v2025/sp-config"},
		{"beta", "/beta/sp-config"},
		{"v2024", "/v2024/sp-config"},
		{"v2025", "/v2025/sp-config"},
		{"v2026", "/v2026/sp-config"},
		{"v1", "/sp-config/v1"},
	} {
		t.Run("version="+tc.version, func(t *testing.T) {
			tt := newTestTenant(t, okAPI(t))
			c := tt.client(func(c *Config) { c.APIVersion = tc.version })
			runAllOps(t, c)
			var got, want []string
			for i, r := range tt.requests() {
				got = append(got, r.Method+" "+r.Path)
				want = append(want, methods[i]+" "+tc.prefix+suffixes[i])
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("request paths (-want +got):\n%s", d)
			}
		})
	}
}

func TestOperations(t *testing.T) {
	tt := newTestTenant(t, okAPI(t))
	c := tt.client(nil)
	ctx := context.Background()

	objs, err := c.ConfigObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].ObjectType != "SOURCE" || !objs[0].Exportable || len(objs[0].Rules) == 0 {
		t.Errorf("ConfigObjects = %+v", objs)
	}

	p := ExportPayload{Description: "nightly", IncludeTypes: []string{"SOURCE"}, ObjectOptions: map[string]ObjectOptions{"SOURCE": {IncludedIDs: []string{"s-1"}}}}
	j, err := c.StartExport(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if j.JobID != "exp-1" || j.Status != StatusNotStarted || j.Type != JobExport || j.Created.Nanosecond() != 123456000 {
		t.Errorf("StartExport job = %+v", j)
	}
	reqs := tt.requests()
	last := reqs[len(reqs)-1]
	var sent ExportPayload
	if err := json.Unmarshal(last.Body, &sent); err != nil || last.ContentType != "application/json" {
		t.Fatalf("export body %q (%s): %v", last.Body, last.ContentType, err)
	}
	if d := cmp.Diff(p, sent); d != "" {
		t.Errorf("export payload (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(last.Auth, "Bearer tok-") {
		t.Errorf("Authorization = %q, want a bearer token", last.Auth)
	}

	j, err = c.ExportStatus(ctx, "exp-1")
	if err != nil || j.Status != StatusComplete || !j.Done() {
		t.Errorf("ExportStatus = %+v, %v", j, err)
	}

	// The download streams entries with the tenant's exact bytes.
	raw, _ := os.ReadFile("testdata/export.json")
	want, err := ReadExport(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	h, err := c.DownloadExport(ctx, "exp-1", func(i int, e Entry) error {
		if i != len(got) {
			t.Errorf("entry index %d, want %d", i, len(got))
		}
		got = append(got, string(e.Raw))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wantRaw []string
	for _, e := range want.Objects {
		wantRaw = append(wantRaw, string(e.Raw))
	}
	if d := cmp.Diff(wantRaw, got); d != "" {
		t.Errorf("downloaded entries (-want +got):\n%s", d)
	}
	if !strings.Contains(got[0], `"weight":10.0,"big":12345678901234567890`) {
		t.Errorf("number literals not preserved: %s", got[0])
	}
	if h.Tenant != "acme-sb" || h.Description != "nightly" || h.Version != 1 {
		t.Errorf("header = %+v", h)
	}

	// A callback error stops the download and is returned.
	stop := errors.New("stop here")
	if _, err := c.DownloadExport(ctx, "exp-1", func(int, Entry) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("DownloadExport with failing callback: %v, want %v", err, stop)
	}

	opts := &ImportOptions{IncludeTypes: []string{"SOURCE", "TRANSFORM"}, ObjectOptions: map[string]ObjectOptions{"SOURCE": {IncludedNames: []string{"AD"}}}, DefaultReferences: []string{"RULE"}, ExcludeBackup: true}
	j, err = c.StartImport(ctx, raw, opts, true)
	if err != nil || j.JobID != "imp-1" || j.Type != JobImport {
		t.Fatalf("StartImport = %+v, %v", j, err)
	}
	reqs = tt.requests()
	last = reqs[len(reqs)-1]
	if last.Query != "preview=true" {
		t.Errorf("query = %q, want preview=true", last.Query)
	}
	parts := readMultipart(t, last)
	if d := cmp.Diff(string(raw), string(parts["data"].body)); d != "" {
		t.Errorf("data part differs from the document (-want +got):\n%s", d)
	}
	if parts["data"].filename != "import.json" || parts["data"].contentType != "application/json" {
		t.Errorf("data part: filename %q, content type %q", parts["data"].filename, parts["data"].contentType)
	}
	var sentOpts ImportOptions
	if err := json.Unmarshal(parts["options"].body, &sentOpts); err != nil {
		t.Fatalf("options part %q: %v", parts["options"].body, err)
	}
	if d := cmp.Diff(*opts, sentOpts); d != "" {
		t.Errorf("options part (-want +got):\n%s", d)
	}
	if !strings.Contains(string(parts["options"].body), `"excludeBackup":true`) {
		t.Errorf("options part lacks excludeBackup: %s", parts["options"].body)
	}

	if _, err := c.StartImport(ctx, raw, nil, false); err != nil {
		t.Fatal(err)
	}
	reqs = tt.requests()
	last = reqs[len(reqs)-1]
	parts = readMultipart(t, last)
	if _, ok := parts["options"]; ok || last.Query != "preview=false" {
		t.Errorf("import without options: parts %v, query %q", parts, last.Query)
	}

	j, err = c.ImportStatus(ctx, "imp-1")
	if err != nil || j.Status != StatusComplete {
		t.Errorf("ImportStatus = %+v, %v", j, err)
	}
	res, err := c.DownloadImport(ctx, "imp-1")
	if err != nil {
		t.Fatal(err)
	}
	if errs, warns := res.Count(); errs != 1 || warns != 1 || res.ExportJobID != "backup-1" {
		t.Errorf("results: %d errors, %d warnings, backup %q", errs, warns, res.ExportJobID)
	}
	if m := res.Results["TRANSFORM"].Infos[0]; m.Key != "" || m.Details == nil {
		t.Errorf("loose message (key null, detail singular) = %+v", m)
	}
	if m := res.Results["SOURCE"].Errors[0]; m.Key != "UNKNOWN_REFERENCE_RESOLVER" || m.Details["detail"] != "plain string" {
		t.Errorf("error message = %+v", m)
	}
}

func TestLocalChecksSendNothing(t *testing.T) {
	tt := newTestTenant(t, okAPI(t))
	c := tt.client(nil)
	ctx := context.Background()
	tests := []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{"unknown export type", func() error {
			_, err := c.StartExport(ctx, ExportPayload{IncludeTypes: []string{"SOURCES"}})
			return err
		}, `"SOURCES" is not an exportable type`},
		{"unknown excluded type", func() error {
			_, err := c.StartExport(ctx, ExportPayload{ExcludeTypes: []string{"NOPE"}})
			return err
		}, "excludeTypes"},
		{"non-importable import type", func() error {
			_, err := c.StartImport(ctx, []byte(`{"objects":[]}`), &ImportOptions{IncludeTypes: []string{"ROLE"}}, true)
			return err
		}, `"ROLE" is not an importable type`},
		{"non-importable default reference", func() error {
			_, err := c.StartImport(ctx, []byte(`{"objects":[]}`), &ImportOptions{DefaultReferences: []string{"ROLE"}}, true)
			return err
		}, "defaultReferences"},
		{"empty import", func() error {
			_, err := c.StartImport(ctx, []byte("  "), nil, true)
			return err
		}, "empty"},
		{"empty job id", func() error {
			_, err := c.ExportStatus(ctx, "")
			return err
		}, "job id is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	if n := len(tt.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestDownloadExportTruncated(t *testing.T) {
	raw, _ := os.ReadFile("testdata/export.json")
	tt := newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, string(raw[:len(raw)/2]))
	})
	c := tt.client(nil)
	n := 0
	_, err := c.DownloadExport(context.Background(), "exp-1", func(int, Entry) error { n++; return nil })
	var de *DecodeError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "exp-1") {
		t.Fatalf("error = %v, want a *DecodeError naming the job", err)
	}
	if got := len(tt.requests()); got != 1 {
		t.Errorf("%d download requests, want 1 (a streamed download is not retried)", got)
	}
}

type part struct {
	filename, contentType string
	body                  []byte
}

func readMultipart(t *testing.T, r recorded) map[string]part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.ContentType)
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("content type %q: %v", r.ContentType, err)
	}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	parts := map[string]part{}
	for i := 0; i < 10; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		b, _ := io.ReadAll(p)
		parts[p.FormName()] = part{filename: p.FileName(), contentType: p.Header.Get("Content-Type"), body: b}
	}
	t.Fatal("too many parts")
	return nil
}
