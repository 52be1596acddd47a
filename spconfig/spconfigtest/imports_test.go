package spconfigtest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

func importedOf(res spconfig.ImportResults) []string {
	var out []string
	for _, typ := range sortedKeys(res.Results) {
		for _, o := range res.Results[typ].ImportedObjects {
			out = append(out, o.Type+" "+o.Name)
		}
	}
	return out
}

// backupOf downloads the backup export of an import's results.
func (f *fixture) backupOf(res spconfig.ImportResults) *spconfig.ExportDocument {
	f.t.Helper()
	if res.ExportJobID == "" {
		f.t.Fatal("import results carry no exportJobId")
	}
	r := f.getJSON(f.prefix+"/export/"+res.ExportJobID+"/download", http.StatusOK, nil)
	doc, err := spconfig.ReadExport(bytes.NewReader(r.body))
	if err != nil {
		f.t.Fatal(err)
	}
	return doc
}

// TestPartialImport: a real import halts at the first object with an error;
// the objects before it stay imported and are listed beside the error, the job
// ends FAILED with SailPoint's message, and the backup was taken first.
func TestPartialImport(t *testing.T) {
	dev := start(t, "dev", nil)
	devAll := dev.export(spconfig.ExportPayload{})
	ad := find(t, devAll.Objects, "SOURCE", "Active Directory")
	gwt := find(t, devAll.Objects, "TRANSFORM", "Get Worker Type")
	trig := find(t, devAll.Objects, "TRIGGER_SUBSCRIPTION", "Access Request Pre-Approval")
	// Document order is not import order: the trigger comes first here.
	data := docOf("acme-sb", trig, gwt, ad)

	tests := []struct {
		name         string
		faults       string
		data         []byte
		wantImported []string
		wantErrors   []string
		wantAbsent   []string // (type name) the tenant must not have afterwards
	}{
		{
			name:         "reject-object halts at that object",
			faults:       "reject-object=TRANSFORM:Get Worker Type",
			data:         data,
			wantImported: []string{"SOURCE Active Directory"},
			wantErrors: []string{"TRANSFORM : Unable to import object [type: TRANSFORM, id: " + gwt.Self.ID +
				", name: Get Worker Type]: the target service refused it (injected fault reject-object=TRANSFORM:Get Worker Type)."},
			wantAbsent: []string{"TRIGGER_SUBSCRIPTION Access Request Pre-Approval"},
		},
		{
			name:   "reject-object of the first object imports nothing",
			faults: "reject-object=SOURCE:Active Directory",
			data:   data,
			wantErrors: []string{"SOURCE : Unable to import object [type: SOURCE, id: " + ad.Self.ID +
				", name: " + ad.Self.Name + "]: the target service refused it (injected fault reject-object=SOURCE:Active Directory)."},
			wantAbsent: []string{"TRIGGER_SUBSCRIPTION Access Request Pre-Approval"},
		},
		{
			name:         "an unresolved reference halts after the rule it needs",
			data:         docOf("acme-sb", find(t, devAll.Objects, "SOURCE", "ServiceNow"), find(t, devAll.Objects, "RULE", "Email Correlation"), trig),
			wantImported: []string{"RULE Email Correlation"},
			wantErrors:   []string{"SOURCE UNKNOWN_REFERENCE_RESOLVER: Unable to resolve reference for object [type: IDENTITY, id: ddabd13baa854bff97ced8f66499caee, name: Imogene Mendez]"},
			wantAbsent:   []string{"SOURCE ServiceNow", "TRIGGER_SUBSCRIPTION Access Request Pre-Approval"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prod := start(t, "prod", func(o *Options) { o.Faults = tc.faults })
			before := prod.srv.Objects("")

			// The preview does not see reject-object: it is clean when only that fault stops the import.
			pj, pres := prod.importDoc(tc.data, nil, true)
			if tc.faults != "" && (pj.Status != spconfig.StatusComplete || len(allMessages(pres, "errors")) != 0) {
				t.Errorf("preview: %+v %q, want COMPLETE and clean", pj, allMessages(pres, "errors"))
			}

			job, res := prod.importDoc(tc.data, nil, false)
			if job.Status != spconfig.StatusFailed || job.Message != "Import halted because of errors. Download results for error details." {
				t.Errorf("job = %+v, want FAILED and halted", job)
			}
			if diff := cmp.Diff(tc.wantImported, importedOf(res)); diff != "" {
				t.Errorf("importedObjects (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErrors, allMessages(res, "errors")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			for _, typName := range tc.wantImported {
				typ, name, _ := strings.Cut(typName, " ")
				find(t, prod.srv.Objects(typ), typ, name) // fails when absent
			}
			for _, typName := range tc.wantAbsent {
				typ, name, _ := strings.Cut(typName, " ")
				for _, e := range prod.srv.Objects(typ) {
					if e.Key().Name == name {
						t.Errorf("%s was imported after the halt", typName)
					}
				}
			}
			// The backup is the tenant before the import, even though it FAILED.
			if diff := cmp.Diff(rawsOf(before), rawsOf(prod.backupOf(res).Objects)); diff != "" {
				t.Errorf("backup is not the tenant before the import (-before +backup):\n%s", diff)
			}
		})
	}
}

// TestBackupBeforeFailedImport: fail-import still leaves the backup taken
// before the import was attempted; a preview takes none.
func TestBackupBeforeFailedImport(t *testing.T) {
	prod := start(t, "prod", func(o *Options) { o.Faults = "fail-import=1" })
	before := prod.srv.Objects("")
	job, res := prod.importDoc(docOf("x"), nil, false)
	if job.Status != spconfig.StatusFailed {
		t.Fatalf("job = %+v, want FAILED", job)
	}
	if diff := cmp.Diff(rawsOf(before), rawsOf(prod.backupOf(res).Objects)); diff != "" {
		t.Errorf("backup (-before +backup):\n%s", diff)
	}
	if _, res := prod.importDoc(docOf("x"), nil, true); res.ExportJobID != "" {
		t.Errorf("failed preview made a backup %s", res.ExportJobID)
	}
}

func TestRejectObjectSpec(t *testing.T) {
	for _, spec := range []string{"reject-object=SOURCE", "reject-object=BOGUS:x", "reject-object=SOURCE:"} {
		if _, err := New(Options{Faults: spec}); err == nil {
			t.Errorf("spec %q accepted", spec)
		}
	}
	if _, err := New(Options{Faults: "reject-object=SOURCE:a:b/c,reject-object=RULE:x"}); err != nil {
		t.Errorf("two reject-object faults, a name with a colon: %v", err)
	}
}

// TestMessageShape: result messages have the shape real tenants send
// (SailPoint's published bodies): "detail" singular and null when empty, no
// "details", and "key" null where the service has none.
func TestMessageShape(t *testing.T) {
	dev := start(t, "dev", nil)
	devAll := dev.export(spconfig.ExportPayload{})
	gwt := find(t, devAll.Objects, "TRANSFORM", "Get Worker Type")
	prod := start(t, "prod", func(o *Options) { o.Faults = "reject-object=TRANSFORM:Get Worker Type" })
	download := func(preview bool) string {
		j := prod.startImport(docOf("acme-sb", gwt), nil, preview)
		prod.wait("import", j.JobID)
		return string(prod.getJSON(prod.prefix+"/import/"+j.JobID+"/download", http.StatusOK, nil).body)
	}
	preview := download(true)
	if want := `"infos":[{"key":"IMPORT_PREVIEW","text":"Object to be imported: [` + gwt.Self.ID + `, Get Worker Type]","detail":null}]`; !strings.Contains(preview, want) {
		t.Errorf("preview results %s\nwant %s", preview, want)
	}
	real := download(false)
	if want := `"errors":[{"key":null,"text":"Unable to import object [type: TRANSFORM, id: ` + gwt.Self.ID; !strings.Contains(real, want) ||
		!strings.Contains(real, `"detail":{"reference":{"id":"`+gwt.Self.ID+`","name":"Get Worker Type","type":"TRANSFORM"}}`) {
		t.Errorf("import results %s\nwant %s... with a detail", real, want)
	}
	for _, body := range []string{preview, real} {
		if strings.Contains(body, `"details"`) {
			t.Errorf(`results use "details": %s`, body)
		}
	}
}
