package spconfigtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
)

// TestCancelJob: the admin API cancels a job that is not done; a cancelled
// import imports nothing and has no results.
func TestCancelJob(t *testing.T) {
	dev := start(t, "dev", nil)
	gwt := find(t, dev.srv.Objects("TRANSFORM"), "TRANSFORM", "Get Worker Type")
	f := start(t, "prod", func(o *Options) { o.JobDelay = time.Minute })
	before := rawsOf(f.srv.Objects(""))
	j := f.startImport(docOf("acme-sb", gwt), nil, false)
	tok := f.token
	f.token = ""
	if r := f.do("POST", "/_fake/jobs/"+j.JobID+"/cancel", nil, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":"CANCELLED"`) {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/_fake/jobs/"+j.JobID+"/cancel", nil, ""); r.status != http.StatusBadRequest {
		t.Errorf("cancel again: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/_fake/jobs/nope/cancel", nil, ""); r.status != http.StatusNotFound {
		t.Errorf("cancel unknown: %d", r.status)
	}
	f.token = tok
	f.clock.Add(2 * time.Minute)
	var s spconfig.Job
	f.getJSON(f.prefix+"/import/"+j.JobID, http.StatusOK, &s)
	if s.Status != spconfig.StatusCancelled || s.Message == "" {
		t.Errorf("status = %+v, want CANCELLED with a message", s)
	}
	if r := f.do("GET", f.prefix+"/import/"+j.JobID+"/download", nil, ""); r.status != http.StatusBadRequest {
		t.Errorf("download of a cancelled job: %d", r.status)
	}
	if got := rawsOf(f.srv.Objects("")); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Error("a cancelled import changed the tenant")
	}
}

// TestResultsExpire: 7 days after a job was created its status and results
// are gone (404).
func TestResultsExpire(t *testing.T) {
	f := start(t, "dev", func(o *Options) { o.TokenTTL = 30 * 24 * time.Hour })
	j := f.startExport(spconfig.ExportPayload{})
	f.wait("export", j.JobID)
	f.clock.Add(7*24*time.Hour - time.Second)
	f.getJSON(f.prefix+"/export/"+j.JobID+"/download", http.StatusOK, nil)
	f.clock.Add(time.Second)
	for _, p := range []string{"", "/download"} {
		if r := f.do("GET", f.prefix+"/export/"+j.JobID+p, nil, ""); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "expired") {
			t.Errorf("GET export/{id}%s after 7 days: %d %s", p, r.status, r.body)
		}
	}
}

// TestSpecBadRequests: requests the spec calls invalid get its 400.
func TestSpecBadRequests(t *testing.T) {
	f := start(t, "prod", nil)
	for _, tc := range []struct{ name, options, want string }{
		{"unknown include type", `{"includeTypes":["BOGUS"]}`, "includeTypes: BOGUS"},
		{"non-importable exclude type", `{"excludeTypes":["ROLE"]}`, "excludeTypes: ROLE"},
		{"objectOptions of a non-importable type", `{"objectOptions":{"ROLE":{"includedNames":["x"]}}}`, "objectOptions: ROLE"},
		{"defaultReferences of a non-importable type", `{"defaultReferences":["TAG"]}`, "defaultReferences: TAG"},
		{"defaultReferences object of a non-importable type", `{"defaultReferences":[{"type":"TAG","id":"1","name":"x"}]}`, "defaultReferences: TAG"},
		{"defaultReferences neither", `{"defaultReferences":[7]}`, `defaultReferences[0]`},
	} {
		body, ct := multipartBody(t, docOf("x"), []byte(tc.options))
		r := f.do("POST", f.prefix+"/import?preview=true", body, ct)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.status, r.body, tc.want)
		}
	}
	for _, ct := range []string{"text/plain", ""} {
		r := f.do("POST", f.prefix+"/export", strings.NewReader(`{}`), ct)
		if r.status != http.StatusBadRequest {
			t.Errorf("export with Content-Type %q: %d %s", ct, r.status, r.body)
		}
	}
	if n := len(f.srv.Jobs()); n != 0 {
		t.Errorf("bad requests started %d jobs", n)
	}
	// The spec's own example options (defaultReferences as objects) are accepted.
	body, ct := multipartBody(t, docOf("x"), []byte(`{"excludeTypes":[],"includeTypes":["TRIGGER_SUBSCRIPTION"],"objectOptions":{"TRIGGER_SUBSCRIPTION":{"includedIds":["be9e116d-08e1-49fc-ab7f-fa585e96c9e4"],"includedNames":["Lori Test 2"]}},"defaultReferences":[{"type":"TRIGGER_SUBSCRIPTION","id":"be9e116d-08e1-49fc-ab7f-fa585e96c9e4","name":"Test Trigger"}],"excludeBackup":false}`))
	if r := f.do("POST", f.prefix+"/import?preview=true", body, ct); r.status != http.StatusAccepted {
		t.Errorf("the spec's example options: %d %s", r.status, r.body)
	}
}

// TestDefaultReferences: a reference that does not resolve by name resolves
// through defaultReferences: to the given object for the object form (the
// spec's example), by id for a type named in the string form (the schema).
func TestDefaultReferences(t *testing.T) {
	dev := start(t, "dev", nil)
	profile := find(t, dev.export(spconfig.ExportPayload{}).Objects, "IDENTITY_PROFILE", "Employees")
	// Its source reference no longer resolves by name.
	broken, err := profile.WithObject([]byte(strings.Replace(string(profile.Object()),
		`"name":"Workday"`, `"name":"Renamed Elsewhere"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	data := docOf("acme-sb", broken)
	for _, tc := range []struct{ name, options, wantID string }{
		{"no defaults", `{}`, ""},
		{"object form", `{"defaultReferences":[{"type":"SOURCE","id":"x","name":"Workday"}]}`, "workday"},
		{"string form resolves by id", `{"defaultReferences":["SOURCE"]}`, "dev id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, "prod", nil)
			if tc.wantID == "dev id" { // the target has a source with the reference's id
				wd := find(t, f.srv.Objects("SOURCE"), "SOURCE", "Workday")
				var obj struct {
					AuthoritativeSource struct{ ID string } `json:"authoritativeSource"`
				}
				if err := json.Unmarshal(profile.Object(), &obj); err != nil {
					t.Fatal(err)
				}
				if err := f.srv.DeleteObject("SOURCE", "Workday"); err != nil {
					t.Fatal(err)
				}
				e, err := spconfig.NewEntry([]byte(strings.ReplaceAll(string(wd.Raw), wd.Self.ID, obj.AuthoritativeSource.ID)))
				if err != nil {
					t.Fatal(err)
				}
				f.srv.mu.Lock()
				o, _ := newObject(e.Raw)
				f.srv.objects[o.Key] = o
				f.srv.mu.Unlock()
			}
			body, ct := multipartBody(t, data, []byte(tc.options))
			r := f.do("POST", f.prefix+"/import?preview=false", body, ct)
			if r.status != http.StatusAccepted {
				t.Fatalf("import: %d %s", r.status, r.body)
			}
			j := decode[spconfig.Job](t, r.body)
			done := f.wait("import", j.JobID)
			res := decode[spconfig.ImportResults](t, f.getJSON(f.prefix+"/import/"+j.JobID+"/download", http.StatusOK, nil).body)
			if tc.wantID == "" {
				if done.Status != spconfig.StatusFailed || !contains(allMessages(res, "errors"), "Renamed Elsewhere") {
					t.Errorf("without defaults: %+v %q, want the unresolved source", done, allMessages(res, "errors"))
				}
				return
			}
			if done.Status != spconfig.StatusComplete {
				t.Fatalf("import: %+v %q", done, allMessages(res, "errors"))
			}
			wd := find(t, f.srv.Objects("SOURCE"), "SOURCE", "Workday")
			got := find(t, f.srv.Objects("IDENTITY_PROFILE"), "IDENTITY_PROFILE", "Employees")
			if !strings.Contains(string(got.Object()), `"authoritativeSource":{"type":"SOURCE","id":"`+wd.Self.ID+`","name":"Workday"}`) {
				t.Errorf("profile does not refer to Workday %s: %.300s", wd.Self.ID, got.Object())
			}
		})
	}
}
