package spconfigtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"promoter/jsonspan"
	"promoter/spconfig"
)

func TestJobLifecycle(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		steps []time.Duration // clock advance before each poll
		want  []string
	}{
		{"delay 0 completes at the next poll", 0, []time.Duration{0}, []string{"COMPLETE"}},
		{"delay 2s", 2 * time.Second, []time.Duration{0, time.Second, time.Second}, []string{"NOT_STARTED", "IN_PROGRESS", "COMPLETE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, "dev", func(o *Options) { o.JobDelay = tc.delay })
			j := f.startExport(spconfig.ExportPayload{Description: "x"})
			if j.Status != spconfig.StatusNotStarted || j.Type != spconfig.JobExport || j.JobID == "" {
				t.Fatalf("POST export answered %+v, want a NOT_STARTED EXPORT job", j)
			}
			var got []string
			for _, d := range tc.steps {
				f.clock.Add(d)
				var s spconfig.Job
				f.getJSON(f.prefix+"/export/"+j.JobID, 200, &s)
				got = append(got, s.Status)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			jobs := f.srv.Jobs()
			if len(jobs) != 1 || jobs[0].JobID != j.JobID || jobs[0].Status != spconfig.StatusComplete {
				t.Errorf("Jobs() = %+v", jobs)
			}
		})
	}
}

func keysOf(doc *spconfig.ExportDocument) []string {
	var out []string
	for _, e := range doc.Objects {
		out = append(out, e.Key().String())
	}
	return out
}

func TestExportFilters(t *testing.T) {
	f := start(t, "dev", nil)
	tests := []struct {
		name string
		p    spconfig.ExportPayload
		want []string
	}{
		{"include by names", spconfig.ExportPayload{IncludeTypes: []string{"TRANSFORM"}, ObjectOptions: map[string]spconfig.ObjectOptions{
			"TRANSFORM": {IncludedNames: []string{"Get Worker Type", "Lowercase Email"}}}},
			[]string{"TRANSFORM Get Worker Type", "TRANSFORM Lowercase Email"}},
		{"include by ids", spconfig.ExportPayload{IncludeTypes: []string{"SOURCE", "AUTH_ORG"}, ObjectOptions: map[string]spconfig.ObjectOptions{
			"SOURCE": {IncludedIDs: []string{"2c9180835d191a86015d28455b4a2329"}}}},
			[]string{"AUTH_ORG Authentication Configuration", "SOURCE ServiceNow"}},
		{"source by object name", spconfig.ExportPayload{IncludeTypes: []string{"SOURCE"}, ObjectOptions: map[string]spconfig.ObjectOptions{
			"SOURCE": {IncludedNames: []string{"Workday"}}}},
			[]string{"SOURCE Workday"}},
		{"include wins over exclude", spconfig.ExportPayload{IncludeTypes: []string{"TAG"}, ExcludeTypes: []string{"TAG"}},
			[]string{"TAG PCI", "TAG SOX"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, keysOf(f.export(tc.p))); diff != "" {
				t.Errorf("exported keys (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("exclude", func(t *testing.T) {
		doc := f.export(spconfig.ExportPayload{ExcludeTypes: []string{"LIFECYCLE_STATE", "TRANSFORM"}})
		if len(doc.Objects) != 58-6-9 {
			t.Errorf("exported %d objects, want %d", len(doc.Objects), 58-6-9)
		}
		for _, e := range doc.Objects {
			if e.Type() == "TRANSFORM" || e.Type() == "LIFECYCLE_STATE" {
				t.Errorf("excluded type exported: %s", e.Key())
			}
		}
	})
	t.Run("unknown type fails the job", func(t *testing.T) {
		j := f.startExport(spconfig.ExportPayload{IncludeTypes: []string{"SOURCE", "BOGUS_TYPE"}})
		done := f.wait("export", j.JobID)
		if done.Status != spconfig.StatusFailed || done.Message != "Supplied types are not supported: [BOGUS_TYPE]" {
			t.Errorf("job = %+v, want FAILED with the unsupported-types message", done)
		}
		if r := f.do("GET", f.prefix+"/export/"+j.JobID+"/download", nil, ""); r.status != http.StatusBadRequest {
			t.Errorf("download of failed export: %d, want 400", r.status)
		}
	})
}

// TestExportPreservesSampleBytes: every object comes back byte-identical to the
// sample after compacting, and signed types carry a signature that verifies.
func TestExportPreservesSampleBytes(t *testing.T) {
	for _, tenant := range []string{"dev", "prod"} {
		t.Run(tenant, func(t *testing.T) {
			f := start(t, tenant, nil)
			seed, _ := SampleExport(tenant)
			want, err := spconfig.ReadExport(bytes.NewReader(seed))
			if err != nil {
				t.Fatal(err)
			}
			got := f.export(spconfig.ExportPayload{})
			if got.Tenant != want.Tenant || len(got.Objects) != len(want.Objects) {
				t.Fatalf("tenant %q with %d objects, want %q with %d", got.Tenant, len(got.Objects), want.Tenant, len(want.Objects))
			}
			wantByKey := map[spconfig.Key]spconfig.Entry{}
			for _, e := range want.Objects {
				wantByKey[e.Key()] = e
			}
			for _, e := range got.Objects {
				w := wantByKey[e.Key()]
				if spconfig.SignedType(e.Type()) {
					if err := VerifyEntry(e); err != nil {
						t.Errorf("%s: %v", e.Key(), err)
					}
					if !bytes.Equal(e.Object(), w.Object()) {
						t.Errorf("%s: signed object bytes changed", e.Key())
					}
					continue
				}
				if e.Signed() {
					t.Errorf("%s: unsigned type carries a signature", e.Key())
				}
				if !bytes.Equal(e.Raw, w.Raw) {
					t.Errorf("%s: bytes changed\n got %.200s\nwant %.200s", e.Key(), e.Raw, w.Raw)
				}
			}
			if !bytes.Contains(f.export(spconfig.ExportPayload{IncludeTypes: []string{"SOURCE"}}).Bytes(), []byte(`"deleteThreshold":10.0`)) {
				t.Error("number literal 10.0 not preserved")
			}
		})
	}
}

func TestSignatures(t *testing.T) {
	dev := start(t, "dev", nil)
	rule := find(t, dev.export(spconfig.ExportPayload{IncludeTypes: []string{"RULE"}}).Objects, "RULE", "Email Correlation")
	if err := VerifyEntry(rule); err != nil {
		t.Fatalf("exported rule does not verify: %v", err)
	}
	i := bytes.LastIndex(rule.Raw, []byte(`"name":"Email Correlation"`)) // in the object, after self
	tamperedRaw := slices.Concat(rule.Raw[:i], []byte(`"tampered":"x",`), rule.Raw[i:])
	tampered, err := spconfig.NewEntry(tamperedRaw)
	if err != nil || bytes.Equal(tampered.Raw, rule.Raw) {
		t.Fatalf("tampering failed: %v", err)
	}
	unsignedRaw := bytes.Replace(rule.Raw, []byte(`,"jwsHeader"`), []byte(`,"x"`), 1)
	unsignedRaw = bytes.Replace(unsignedRaw, []byte(`,"jwsSignature"`), []byte(`,"y"`), 1)
	unsigned, err := spconfig.NewEntry(unsignedRaw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		e       spconfig.Entry
		wantErr string
	}{
		{"verified", rule, ""},
		{"tampered", tampered, "Signature verification failed for object [type: RULE, id: 2c918008ecd2ad00ac54df266609fd6b, name: Email Correlation]"},
		{"missing", unsigned, "not signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prod := start(t, "prod", nil)
			_, res := prod.importDoc(docOf("acme-sb", tc.e), nil, true)
			errs := allMessages(res, "errors")
			if tc.wantErr == "" && len(errs) > 0 || tc.wantErr != "" && !contains(errs, tc.wantErr) {
				t.Errorf("errors = %q, want containing %q", errs, tc.wantErr)
			}
		})
	}
}

func TestReferenceResolution(t *testing.T) {
	dev := start(t, "dev", nil)
	devAll := dev.export(spconfig.ExportPayload{})
	sn := find(t, devAll.Objects, "SOURCE", "ServiceNow")
	rule := find(t, devAll.Objects, "RULE", "Email Correlation")
	data := docOf("acme-sb", rule, sn)

	prod := start(t, "prod", nil)
	_, res := prod.importDoc(data, nil, true)
	want := []string{"SOURCE UNKNOWN_REFERENCE_RESOLVER: Unable to resolve reference for object [type: IDENTITY, id: ddabd13baa854bff97ced8f66499caee, name: Imogene Mendez]"}
	if diff := cmp.Diff(want, allMessages(res, "errors")); diff != "" {
		t.Errorf("preview errors (-want +got):\n%s", diff)
	}
	job, res := prod.importDoc(data, nil, false)
	if job.Status != spconfig.StatusFailed || job.Message != "Import halted because of errors. Download results for error details." {
		t.Errorf("real import with errors: %+v", job)
	}
	if len(prod.srv.Objects("SOURCE")) != 3 || len(allMessages(res, "errors")) != 1 {
		t.Errorf("failed import changed the tenant or lost its error: %d sources, %q", len(prod.srv.Objects("SOURCE")), allMessages(res, "errors"))
	}

	// Once the identity exists, everything resolves and the import rewrites ids.
	imogene := prod.srv.AddIdentity("Imogene Mendez")
	job, res = prod.importDoc(data, nil, false)
	if job.Status != spconfig.StatusComplete || len(allMessages(res, "errors")) > 0 {
		t.Fatalf("import: %+v %q", job, allMessages(res, "errors"))
	}
	got := find(t, prod.srv.Objects("SOURCE"), "SOURCE", "ServiceNow")
	newRule := find(t, prod.srv.Objects("RULE"), "RULE", "Email Correlation")
	var obj struct {
		ID      string            `json:"id"`
		Owner   map[string]string `json:"owner"`
		Cluster map[string]string `json:"cluster"`
		Rule    map[string]string `json:"accountCorrelationRule"`
	}
	if err := json.Unmarshal(got.Object(), &obj); err != nil {
		t.Fatal(err)
	}
	prodSeed := find(t, start(t, "prod", nil).srv.Objects("SOURCE"), "SOURCE", "Workday")
	var wd struct {
		Cluster map[string]string `json:"cluster"`
	}
	json.Unmarshal(prodSeed.Object(), &wd)
	checks := []struct{ what, got, want string }{
		{"owner id", obj.Owner["id"], imogene.ID},
		{"cluster id", obj.Cluster["id"], wd.Cluster["id"]},
		{"rule id", obj.Rule["id"], newRule.Self.ID},
		{"object id", obj.ID, got.Self.ID},
	}
	for _, c := range checks {
		if c.got != c.want || c.got == "" {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if got.Self.ID == sn.Self.ID || !strings.HasPrefix(got.Self.Name, "ServiceNow [source-") || got.Self.Name == sn.Self.Name {
		t.Errorf("new source self = %+v, want a new id and a prod source number", got.Self)
	}
}

func TestPreviewChangesNothing(t *testing.T) {
	dev := start(t, "dev", nil)
	doc := dev.export(spconfig.ExportPayload{IncludeTypes: []string{"TRANSFORM", "SOURCE", "RULE"}})
	var es []spconfig.Entry
	for _, e := range doc.Objects {
		if e.Key().Name != "ServiceNow" { // its owner is missing in prod
			es = append(es, e)
		}
	}
	prod := start(t, "prod", nil)
	before := prod.srv.Objects("")
	job, res := prod.importDoc(docOf("acme-sb", es...), nil, true)
	if job.Status != spconfig.StatusComplete || len(allMessages(res, "errors")) != 0 {
		t.Fatalf("preview: %+v %q", job, allMessages(res, "errors"))
	}
	infos := allMessages(res, "infos")
	if len(infos) != len(es) || !contains(infos, "TRANSFORM IMPORT_PREVIEW: Object to be imported: [0bd9173d-80e7-4c8a-9e8f-c9ac8495d7b5, Get Worker Type]") {
		t.Errorf("infos = %q", infos)
	}
	if res.ExportJobID != "" {
		t.Errorf("preview made a backup %s", res.ExportJobID)
	}
	if diff := cmp.Diff(rawsOf(before), rawsOf(prod.srv.Objects(""))); diff != "" {
		t.Errorf("preview changed the tenant:\n%s", diff)
	}
}

func rawsOf(es []spconfig.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Raw))
	}
	return out
}

func TestRealImportCreatesAndUpdates(t *testing.T) {
	dev := start(t, "dev", nil)
	devAll := dev.export(spconfig.ExportPayload{})
	ad := find(t, devAll.Objects, "SOURCE", "Active Directory")
	gwt := find(t, devAll.Objects, "TRANSFORM", "Get Worker Type")
	trig := find(t, devAll.Objects, "TRIGGER_SUBSCRIPTION", "Access Request Pre-Approval")

	prod := start(t, "prod", nil)
	prodAD := find(t, prod.srv.Objects("SOURCE"), "SOURCE", "Active Directory")
	prodGWT := find(t, prod.srv.Objects("TRANSFORM"), "TRANSFORM", "Get Worker Type")
	job, res := prod.importDoc(docOf("acme-sb", ad, gwt, trig), nil, false)
	if job.Status != spconfig.StatusComplete || len(allMessages(res, "errors")) > 0 {
		t.Fatalf("import: %+v %q", job, allMessages(res, "errors"))
	}
	newAD := find(t, prod.srv.Objects("SOURCE"), "SOURCE", "Active Directory")
	if newAD.Self != prodAD.Self {
		t.Errorf("updated source self = %+v, want the target's %+v", newAD.Self, prodAD.Self)
	}
	if !bytes.Contains(newAD.Object(), []byte("Corporate Active Directory - employee and contractor accounts")) ||
		!bytes.Contains(newAD.Object(), []byte(`"deleteThreshold":10.0`)) {
		t.Errorf("AD not updated byte-faithfully: %.300s", newAD.Object())
	}
	if !bytes.Contains(newAD.Object(), []byte(`"name":"Active Directory [source-3172] Account Correlation"`)) {
		t.Errorf("AD correlation config should keep the target's: %.400s", newAD.Object())
	}
	if got := find(t, prod.srv.Objects("TRANSFORM"), "TRANSFORM", "Get Worker Type"); got.Self.ID != prodGWT.Self.ID || bytes.Equal(got.Object(), prodGWT.Object()) {
		t.Errorf("transform not updated in place: %s", got.Raw)
	}
	newTrig := find(t, prod.srv.Objects("TRIGGER_SUBSCRIPTION"), "TRIGGER_SUBSCRIPTION", "Access Request Pre-Approval")
	if newTrig.Self.ID == trig.Self.ID {
		t.Errorf("created object kept the source tenant's id")
	}
	var imported []string
	for _, typ := range sortedKeys(res.Results) {
		for _, o := range res.Results[typ].ImportedObjects {
			imported = append(imported, o.Type+" "+o.Name+" "+o.ID)
		}
	}
	wantImported := []string{"SOURCE Active Directory " + prodAD.Self.ID, "TRANSFORM Get Worker Type " + prodGWT.Self.ID,
		"TRIGGER_SUBSCRIPTION Access Request Pre-Approval " + newTrig.Self.ID}
	if diff := cmp.Diff(wantImported, imported); diff != "" {
		t.Errorf("importedObjects (-want +got):\n%s", diff)
	}

	// The backup is a real export job of the tenant before the import.
	if res.ExportJobID == "" {
		t.Fatal("no exportJobId")
	}
	r := prod.getJSON(prod.prefix+"/export/"+res.ExportJobID+"/download", 200, nil)
	backup, err := spconfig.ReadExport(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if b := find(t, backup.Objects, "SOURCE", "Active Directory"); !bytes.Equal(b.Raw, prodAD.Raw) || len(backup.Objects) != 53 {
		t.Errorf("backup is not the pre-import tenant (%d objects)", len(backup.Objects))
	}

	// excludeBackup: no backup job.
	n := len(prod.srv.Jobs())
	_, res = prod.importDoc(docOf("acme-sb", gwt), &spconfig.ImportOptions{ExcludeBackup: true}, false)
	if res.ExportJobID != "" || len(prod.srv.Jobs()) != n+1 {
		t.Errorf("excludeBackup: exportJobId %q, %d new jobs", res.ExportJobID, len(prod.srv.Jobs())-n)
	}

	// Non-importable types are errors and halt the import.
	role := find(t, devAll.Objects, "ROLE", "Employee Database Access")
	job, res = prod.importDoc(docOf("acme-sb", role, gwt), nil, false)
	if job.Status != spconfig.StatusFailed || !contains(allMessages(res, "errors"), "ROLE IMPORT_TYPE_NOT_SUPPORTED") {
		t.Errorf("import of a ROLE: %+v %q", job, allMessages(res, "errors"))
	}
}

func TestImportBadRequests(t *testing.T) {
	f := start(t, "prod", nil)
	tests := []struct {
		name     string
		data     []byte
		options  []byte
		wantText string
	}{
		{"data missing", nil, []byte(`{}`), "Required request part 'data' is not present."},
		{"data not JSON", []byte("{nope"), nil, "not valid JSON"},
		{"data not an export", []byte(`{"a":1}`), nil, "not an SP-Config export"},
		{"options not JSON", docOf("x"), []byte(`{`), "'options' is not valid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := multipartBody(t, tc.data, tc.options)
			r := f.do("POST", f.prefix+"/import", body, ct)
			var e struct {
				DetailCode string `json:"detailCode"`
				Messages   []struct{ Text string }
			}
			json.Unmarshal(r.body, &e)
			if r.status != 400 || len(e.Messages) != 1 || !strings.Contains(e.Messages[0].Text, tc.wantText) {
				t.Errorf("status %d body %s, want 400 with %q", r.status, r.body, tc.wantText)
			}
		})
	}
	if len(f.srv.Jobs()) != 0 {
		t.Errorf("bad requests started jobs: %+v", f.srv.Jobs())
	}
}

func TestAuth(t *testing.T) {
	f := start(t, "", func(o *Options) { o.ClientID, o.ClientSecret, o.TokenTTL = "id1", "s1", time.Minute })
	post := func(form url.Values, basic bool) int {
		req, _ := http.NewRequest("POST", f.srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth("id1", "s1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name  string
		form  url.Values
		basic bool
		want  int
	}{
		{"form", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id1"}, "client_secret": {"s1"}}, false, 200},
		{"basic", cc, true, 200},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"id1"}, "client_secret": {"x"}}, false, 401},
		{"no credentials", cc, false, 401},
		{"wrong grant", url.Values{"grant_type": {"password"}}, true, 400},
	}
	for _, tc := range tests {
		if got := post(tc.form, tc.basic); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	f.token = f.getToken("id1", "s1")
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	f.clock.Add(time.Minute)
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != 401 || !strings.Contains(string(r.body), "expired") {
		t.Errorf("expired token: %d %s", r.status, r.body)
	}
	f.token = "garbage"
	if r := f.do("GET", "/sp-config/v1/config-objects", nil, ""); r.status != 401 {
		t.Errorf("unknown token: %d", r.status)
	}
	f.token = ""
	if r := f.do("GET", "/", nil, ""); r.status != 200 {
		t.Errorf("GET / = %d", r.status)
	}
}

func TestConfigObjects(t *testing.T) {
	f := start(t, "dev", nil)
	var objs []spconfig.ConfigObject
	f.getJSON("/v2026/sp-config/config-objects", 200, &objs)
	byType := map[string]spconfig.ConfigObject{}
	for _, o := range objs {
		byType[o.ObjectType] = o
	}
	for _, typ := range spconfig.ExportableTypes() {
		o, ok := byType[typ]
		if !ok || !o.Exportable || o.SignatureRequired != spconfig.SignedType(typ) || o.OnePerTenant != spconfig.Singleton(typ) {
			t.Errorf("%s: %+v", typ, o)
		}
	}
	if src := byType["SOURCE"].ReferenceExtractors; !slices.Contains(src, "$.owner") || !slices.Contains(src, "$.schemas[*]") {
		t.Errorf("SOURCE referenceExtractors = %q", src)
	}
	if byType["IDENTITY"].Exportable {
		t.Error("IDENTITY listed as exportable")
	}
}

func TestRateLimit(t *testing.T) {
	f := start(t, "", func(o *Options) { o.RateLimit, o.RateWindow = 3, 10*time.Second })
	var codes []int
	for range 4 {
		codes = append(codes, f.do("GET", f.prefix+"/config-objects", nil, "").status)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 429}, codes); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	f.clock.Add(4 * time.Second)
	r := f.do("GET", f.prefix+"/config-objects", nil, "")
	if r.status != 429 || r.header.Get("Retry-After") != "6" || string(r.body) != `{"message":" Rate Limit Exceeded "}` {
		t.Errorf("429: Retry-After %q body %s", r.header.Get("Retry-After"), r.body)
	}
	f.clock.Add(6 * time.Second)
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != 200 {
		t.Errorf("after the window: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	t.Run("status codes", func(t *testing.T) {
		for _, tc := range []struct {
			spec string
			want int
		}{{"429=1", 429}, {"500=1", 500}, {"503=1", 503}, {"", 200}} {
			f := start(t, "", func(o *Options) { o.Faults = tc.spec })
			r := f.do("GET", f.prefix+"/config-objects", nil, "")
			if r.status != tc.want || (tc.want == 429) != (r.header.Get("Retry-After") != "") {
				t.Errorf("%q: status %d Retry-After %q", tc.spec, r.status, r.header.Get("Retry-After"))
			}
		}
	})
	t.Run("probability", func(t *testing.T) {
		f := start(t, "", func(o *Options) { o.Faults = "503=0.5"; o.RandSeed = 7; o.RateLimit = -1 })
		n := 0
		for range 200 {
			if f.do("GET", f.prefix+"/config-objects", nil, "").status == 503 {
				n++
			}
		}
		if n < 50 || n > 150 {
			t.Errorf("503=0.5 gave %d of 200", n)
		}
	})
	t.Run("fail-export fail-import", func(t *testing.T) {
		f := start(t, "dev", func(o *Options) { o.Faults = "fail-export=1,fail-import=1" })
		if j := f.wait("export", f.startExport(spconfig.ExportPayload{}).JobID); j.Status != spconfig.StatusFailed || j.Message == "" {
			t.Errorf("export: %+v", j)
		}
		if j := f.wait("import", f.startImport(docOf("x"), nil, true).JobID); j.Status != spconfig.StatusFailed {
			t.Errorf("import: %+v", j)
		}
	})
	t.Run("hang", func(t *testing.T) {
		f := start(t, "dev", func(o *Options) { o.Faults = "hang-export=1,hang-import=1"; o.TokenTTL = 24 * time.Hour })
		for _, j := range []spconfig.Job{f.startExport(spconfig.ExportPayload{}), f.startImport(docOf("x"), nil, false)} {
			f.clock.Add(10 * time.Minute)
			var s spconfig.Job
			f.getJSON(f.prefix+"/"+strings.ToLower(j.Type)+"/"+j.JobID, 200, &s)
			if s.Status != spconfig.StatusInProgress {
				t.Errorf("%s job after 10 minutes: %s", j.Type, s.Status)
			}
		}
	})
	t.Run("slow-download", func(t *testing.T) {
		f := start(t, "dev", nil)
		j := f.startExport(spconfig.ExportPayload{})
		f.wait("export", j.JobID)
		f.srv.SetFaults("slow-download=1m")
		req, _ := http.NewRequest("GET", f.srv.URL+f.prefix+"/export/"+j.JobID+"/download", nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		c := &http.Client{Timeout: 100 * time.Millisecond}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("download answered %d despite slow-download=1m", resp.StatusCode)
		}
	})
	t.Run("truncate-download", func(t *testing.T) {
		f := start(t, "dev", nil)
		j := f.startExport(spconfig.ExportPayload{})
		f.wait("export", j.JobID)
		f.srv.SetFaults("truncate-download=1")
		req, _ := http.NewRequest("GET", f.srv.URL+f.prefix+"/export/"+j.JobID+"/download", nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, err = spconfig.ReadExport(resp.Body)
		if err == nil {
			t.Error("truncated download decoded without error")
		}
	})
	t.Run("bad spec", func(t *testing.T) {
		for _, spec := range []string{"429", "429=2", "slow-download=x", "boom=1", "200=1"} {
			if _, err := New(Options{Faults: spec}); err == nil {
				t.Errorf("spec %q accepted", spec)
			}
		}
	})
}

func TestAdminAPI(t *testing.T) {
	f := start(t, "prod", nil)
	f.token = "" // the admin API needs none
	var rules []json.RawMessage
	f.getJSON("/_fake/objects?type=RULE", 200, &rules)
	var all []json.RawMessage
	f.getJSON("/_fake/objects", 200, &all)
	if len(rules) != 5 || len(all) != 53 || !bytes.Contains(rules[0], []byte(`"jwsSignature"`)) {
		t.Errorf("GET objects: %d rules, %d objects", len(rules), len(all))
	}

	// PUT an edit of an existing object (drift): the tenant's id stays.
	ad := find(t, f.srv.Objects("SOURCE"), "SOURCE", "Active Directory")
	edited := bytes.Replace(ad.Raw, []byte(`"description":"SailPoint Active Directory"`), []byte(`"description":"edited in the UI"`), 1)
	edited = bytes.ReplaceAll(edited, []byte(ad.Self.ID), []byte("0000"))
	r := f.do("PUT", "/_fake/objects", bytes.NewReader(edited), "application/json")
	got := find(t, f.srv.Objects("SOURCE"), "SOURCE", "Active Directory")
	if r.status != 200 || got.Self != ad.Self || !bytes.Contains(got.Object(), []byte("edited in the UI")) {
		t.Errorf("PUT existing: %d, self %+v, want %+v", r.status, got.Self, ad.Self)
	}
	// PUT a new object: a new id.
	newTag := `{"version":1,"self":{"name":"NEW","id":"x1","type":"TAG"},"object":{"id":"x1","name":"NEW"}}`
	if r := f.do("PUT", "/_fake/objects", strings.NewReader(newTag), ""); r.status != 200 {
		t.Fatalf("PUT new: %d %s", r.status, r.body)
	}
	tag := find(t, f.srv.Objects("TAG"), "TAG", "NEW")
	if tag.Self.ID == "x1" || !bytes.Contains(tag.Object(), []byte(`"id":"`+tag.Self.ID+`"`)) {
		t.Errorf("new object ids: %s", tag.Raw)
	}
	if r := f.do("PUT", "/_fake/objects", strings.NewReader(`{"self":{}}`), ""); r.status != 400 {
		t.Errorf("PUT garbage: %d", r.status)
	}
	// DELETE
	if r := f.do("DELETE", "/_fake/objects?type=TAG&name=NEW", nil, ""); r.status != 204 {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	if r := f.do("DELETE", "/_fake/objects?type=TAG&name=NEW", nil, ""); r.status != 404 {
		t.Errorf("DELETE again: %d", r.status)
	}
	if r := f.do("DELETE", "/_fake/objects?type=LIFECYCLE_STATE&name=active", nil, ""); r.status != 400 {
		t.Errorf("DELETE ambiguous: %d", r.status)
	}
	if r := f.do("DELETE", "/_fake/objects?type=LIFECYCLE_STATE&name=Employees+%2F+active", nil, ""); r.status != 204 {
		t.Errorf("DELETE scoped: %d %s", r.status, r.body)
	}
	// identities
	r = f.do("POST", "/_fake/identities", strings.NewReader(`{"name":"Imogene Mendez"}`), "application/json")
	var ids []Identity
	f.getJSON("/_fake/identities", 200, &ids)
	if r.status != 201 || len(ids) != 7 || ids[6].Name != "Imogene Mendez" || ids[6].ID == "" {
		t.Errorf("identities: %d %+v", r.status, ids)
	}
	// jobs
	f.token = f.getToken("promoter", "promoter-secret")
	f.wait("import", f.startImport(docOf("x"), nil, true).JobID)
	var jobs []map[string]any
	f.getJSON("/_fake/jobs", 200, &jobs)
	if len(jobs) != 1 || jobs[0]["type"] != "IMPORT" || jobs[0]["preview"] != true || jobs[0]["status"] != "COMPLETE" || jobs[0]["created"] == nil {
		t.Errorf("jobs: %v", jobs)
	}
	// faults
	if r := f.do("PUT", "/_fake/faults", strings.NewReader(`{"spec":"503=1"}`), ""); r.status != 200 {
		t.Errorf("PUT faults: %d", r.status)
	}
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != 503 {
		t.Errorf("after PUT faults: %d", r.status)
	}
	if r := f.do("PUT", "/_fake/faults", strings.NewReader(`{"spec":"nope"}`), ""); r.status != 400 {
		t.Errorf("PUT bad faults: %d", r.status)
	}
}

func TestStateFileSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := start(t, "prod", func(o *Options) { o.StatePath = path })
	id := f.srv.AddIdentity("Imogene Mendez")
	newTag := `{"version":1,"self":{"name":"NEW","id":"x1","type":"TAG"},"object":{"id":"x1","name":"NEW"}}`
	f.token = ""
	f.do("PUT", "/_fake/objects", strings.NewReader(newTag), "")
	f.token = f.getToken("promoter", "promoter-secret")
	ej := f.startExport(spconfig.ExportPayload{IncludeTypes: []string{"TAG"}})
	f.wait("export", ej.JobID)
	before, jobsBefore := rawsOf(f.srv.Objects("")), f.srv.Jobs()
	f.srv.Close()

	g := start(t, "", func(o *Options) { o.StatePath = path; o.Now = f.clock.Now })
	if diff := cmp.Diff(before, rawsOf(g.srv.Objects(""))); diff != "" {
		t.Errorf("objects after restart (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(jobsBefore, g.srv.Jobs(), cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("jobs after restart:\n%s", diff)
	}
	if ids := g.srv.Identities(); !slices.Contains(ids, id) || g.srv.Name() != "acme" {
		t.Errorf("identities %+v, name %q", ids, g.srv.Name())
	}
	if r := g.do("GET", g.prefix+"/export/"+ej.JobID+"/download", nil, ""); r.status != 200 || !bytes.Contains(r.body, []byte(`"NEW"`)) {
		t.Errorf("download after restart: %d", r.status)
	}
	// New ids after a restart do not repeat old ones.
	if again := g.srv.AddIdentity("x"); again.ID == id.ID {
		t.Error("id counter not restored")
	}
}

func TestSignObjectDeterministic(t *testing.T) {
	obj := []byte(`{"name":"r","sourceCode":{"script":"return 1;"}}`)
	h1, s1 := SignObject(obj)
	h2, s2 := SignObject(obj)
	if h1 != h2 || s1 != s2 {
		t.Error("signatures differ for the same object")
	}
	if err := VerifyObject(obj, h1, s1); err != nil {
		t.Error(err)
	}
	if err := VerifyObject(append(obj[:len(obj):len(obj)], ' '), h1, s1); err == nil {
		t.Error("signature verified over different bytes")
	}
}

func FuzzParseTree(f *testing.F) {
	seed, _ := SampleExport("dev")
	for _, s := range []string{`{}`, `[1,2.50,"a\"b"]`, `{"a":{"type":"IDENTITY","id":"1","name":"x"}}`, `nul`, string(seed[:2000])} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := jsonspan.Parse(b)
		if (err == nil) != json.Valid(b) {
			t.Fatalf("parseTree err %v, json.Valid %v for %q", err, json.Valid(b), b)
		}
		if err == nil {
			if got := jsonspan.Apply(b, nil); !bytes.Equal(got, b) {
				t.Fatal("applyEdits without edits changed bytes")
			}
			_ = findRefs(b, n, isRefType)
		}
	})
}

// TestBareSourceIDResolvedBySourceName checks that an identity profile's
// transform sourceId (a bare dev id beside its sourceName) is rewritten to the
// target's source of that name, and that an unknown sourceName is an error.
func TestBareSourceIDResolvedBySourceName(t *testing.T) {
	dev := start(t, "dev", nil)
	emp := find(t, dev.export(spconfig.ExportPayload{IncludeTypes: []string{"IDENTITY_PROFILE"}}).Objects, "IDENTITY_PROFILE", "Employees")
	prod := start(t, "prod", nil)
	prodWorkday := find(t, prod.srv.Objects("SOURCE"), "SOURCE", "Workday")
	devWorkday := find(t, dev.srv.Objects("SOURCE"), "SOURCE", "Workday")
	if !bytes.Contains(emp.Raw, []byte(devWorkday.Self.ID)) {
		t.Fatalf("dev Employees does not carry dev's Workday id %s: the test proves nothing", devWorkday.Self.ID)
	}
	job, res := prod.importDoc(docOf("acme-sb", emp), nil, false)
	if job.Status != spconfig.StatusComplete {
		t.Fatalf("import: %+v %q", job, allMessages(res, "errors"))
	}
	got := find(t, prod.srv.Objects("IDENTITY_PROFILE"), "IDENTITY_PROFILE", "Employees")
	if bytes.Contains(got.Raw, []byte(devWorkday.Self.ID)) || !bytes.Contains(got.Raw, []byte(`"sourceId":"`+prodWorkday.Self.ID+`"`)) {
		t.Errorf("sourceId not rewritten to prod's Workday %s:\n%s", prodWorkday.Self.ID, got.Object())
	}

	bad, err := emp.WithObject(bytes.ReplaceAll(emp.Object(), []byte(`"sourceName":"Workday"`), []byte(`"sourceName":"No Such Source"`)))
	if err != nil {
		t.Fatal(err)
	}
	_, res = prod.importDoc(docOf("acme-sb", bad), nil, true)
	if errs := allMessages(res, "errors"); len(errs) == 0 || !contains(errs, "name: No Such Source]") {
		t.Errorf("unknown sourceName not reported: %q", errs)
	}
}
