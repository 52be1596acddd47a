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
	"sync"
	"testing"
	"time"

	"promoter/spconfig"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fixture is a fake tenant on 127.0.0.1 with a client holding a token.
type fixture struct {
	t      *testing.T
	srv    *Server
	clock  *clock
	token  string
	prefix string // API prefix, e.g. /v2025/sp-config
}

func sampleOptions(t *testing.T, tenant string) Options {
	t.Helper()
	seed, err := SampleExport(tenant)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := SampleIdentities(tenant)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Seed: seed, Identities: ids}
}

// start runs a fake tenant; tweak adjusts the options after the sample seed.
func start(t *testing.T, tenant string, tweak func(*Options)) *fixture {
	t.Helper()
	var opts Options
	if tenant != "" {
		opts = sampleOptions(t, tenant)
	}
	c := newClock()
	opts.Now = c.Now
	if tweak != nil {
		tweak(&opts)
	}
	srv, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f := &fixture{t: t, srv: srv, clock: c, prefix: "/v2025/sp-config"}
	id, secret := opts.ClientID, opts.ClientSecret
	if id == "" {
		id, secret = "promoter", "promoter-secret"
	}
	f.token = f.getToken(id, secret)
	return f
}

func (f *fixture) getToken(id, secret string) string {
	f.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(f.srv.URL+"/oauth/token", form)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		f.t.Fatalf("token: status %d, err %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

type response struct {
	status int
	header http.Header
	body   []byte
	req    *http.Request
}

func (f *fixture) do(method, path string, body io.Reader, contentType string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, req: req}
}

func (f *fixture) getJSON(path string, want int, v any) response {
	f.t.Helper()
	r := f.do("GET", path, nil, "")
	if r.status != want {
		f.t.Fatalf("GET %s: status %d, want %d: %s", path, r.status, want, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			f.t.Fatalf("GET %s: %v: %s", path, err, r.body)
		}
	}
	return r
}

func (f *fixture) startExport(p spconfig.ExportPayload) spconfig.Job {
	f.t.Helper()
	r := f.do("POST", f.prefix+"/export", bytes.NewReader(mustJSON(p)), "application/json")
	if r.status != http.StatusAccepted {
		f.t.Fatalf("POST export: status %d: %s", r.status, r.body)
	}
	var j spconfig.Job
	if err := json.Unmarshal(r.body, &j); err != nil {
		f.t.Fatal(err)
	}
	return j
}

// multipartBody builds an import request body.
func multipartBody(t *testing.T, data []byte, options []byte) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if data != nil {
		fw, err := mw.CreateFormFile("data", "export.json")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	if options != nil {
		if err := mw.WriteField("options", string(options)); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func (f *fixture) startImport(data []byte, opts *spconfig.ImportOptions, preview bool) spconfig.Job {
	f.t.Helper()
	var ob []byte
	if opts != nil {
		ob = mustJSON(opts)
	}
	body, ct := multipartBody(f.t, data, ob)
	r := f.do("POST", fmt.Sprintf("%s/import?preview=%t", f.prefix, preview), body, ct)
	if r.status != http.StatusAccepted {
		f.t.Fatalf("POST import: status %d: %s", r.status, r.body)
	}
	var j spconfig.Job
	if err := json.Unmarshal(r.body, &j); err != nil {
		f.t.Fatal(err)
	}
	return j
}

// wait polls a job until it is done (JobDelay 0: the next poll).
func (f *fixture) wait(kind, id string) spconfig.Job {
	f.t.Helper()
	for range 5 {
		var j spconfig.Job
		f.getJSON(f.prefix+"/"+kind+"/"+id, 200, &j)
		if j.Done() {
			return j
		}
		f.clock.Add(time.Second)
	}
	f.t.Fatalf("%s job %s not done after 5 polls", kind, id)
	return spconfig.Job{}
}

func (f *fixture) export(p spconfig.ExportPayload) *spconfig.ExportDocument {
	f.t.Helper()
	j := f.startExport(p)
	if got := f.wait("export", j.JobID); got.Status != spconfig.StatusComplete {
		f.t.Fatalf("export job %s: %+v", j.JobID, got)
	}
	r := f.getJSON(f.prefix+"/export/"+j.JobID+"/download", 200, nil)
	doc, err := spconfig.ReadExport(bytes.NewReader(r.body))
	if err != nil {
		f.t.Fatal(err)
	}
	return doc
}

// importDoc runs an import to the end and returns the job and its results.
func (f *fixture) importDoc(data []byte, opts *spconfig.ImportOptions, preview bool) (spconfig.Job, spconfig.ImportResults) {
	f.t.Helper()
	j := f.startImport(data, opts, preview)
	done := f.wait("import", j.JobID)
	var res spconfig.ImportResults
	f.getJSON(f.prefix+"/import/"+j.JobID+"/download", 200, &res)
	return done, res
}

// docOf builds an import document from entries.
func docOf(tenant string, es ...spconfig.Entry) []byte {
	d := &spconfig.ExportDocument{ExportHeader: spconfig.ExportHeader{Version: 1, Tenant: tenant}, Objects: es}
	return d.Bytes()
}

// find returns the entry with type typ and key name from es.
func find(t *testing.T, es []spconfig.Entry, typ, name string) spconfig.Entry {
	t.Helper()
	for _, e := range es {
		if e.Type() == typ && e.Key().Name == name {
			return e
		}
	}
	t.Fatalf("no %s %q", typ, name)
	return spconfig.Entry{}
}

func allMessages(res spconfig.ImportResults, kind string) []string {
	var out []string
	for _, typ := range sortedKeys(res.Results) {
		r := res.Results[typ]
		ms := map[string][]spconfig.Message{"errors": r.Errors, "warnings": r.Warnings, "infos": r.Infos}[kind]
		for _, m := range ms {
			out = append(out, typ+" "+m.Key+": "+m.Text)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sortStrings(ks)
	return ks
}

func contains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v: %.300s", v, err, b)
	}
	return v
}
