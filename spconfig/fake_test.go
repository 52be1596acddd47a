package spconfig_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// TestAgainstFakeTenantWithFaults exports the dev sample tenant and previews
// the import of its importable objects into the prod sample tenant while 30%
// of API answers are 429 and 10% are 503, for both path layouts. The client
// must finish both flows every round, start exactly one export and one
// preview import per round, and never start a second import or a real one.
func TestAgainstFakeTenantWithFaults(t *testing.T) {
	for _, version := range []string{"v2025", "v1"} {
		t.Run(version, func(t *testing.T) {
			dev := startFake(t, "dev", 1)
			prod := startFake(t, "prod", 2)

			var mu sync.Mutex
			statuses := map[int]int{}
			var slept time.Duration
			client := func(base string) *spconfig.Client {
				c, err := spconfig.New(spconfig.Config{
					BaseURL: base, APIVersion: version,
					ClientID: "promoter", ClientSecret: "promoter-secret",
					// 40% of answers fail; 20 retries make giving up
					// practically impossible (0.4^21).
					MaxRetries: 20,
					Observer: func(ev spconfig.RequestEvent) {
						mu.Lock()
						statuses[ev.StatusCode]++
						mu.Unlock()
					},
					// Retry-After and polls are honoured on a fake clock so
					// the test does not wait.
					Sleep: func(ctx context.Context, d time.Duration) error {
						mu.Lock()
						slept += d
						mu.Unlock()
						return ctx.Err()
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// Run three rounds, and more (bounded) until both kinds of fault
			// were met, so the test cannot pass without exercising the retries.
			rounds := 0
			for ; rounds < 10; rounds++ {
				mu.Lock()
				seen := statuses[http.StatusTooManyRequests] > 0 && statuses[http.StatusServiceUnavailable] > 0
				mu.Unlock()
				if seen && rounds >= 3 {
					break
				}
				runRound(ctx, t, client(dev.URL), client(prod.URL))
			}
			t.Logf("%s: %d rounds; answers by status %v; slept %v", version, rounds, statuses, slept)
			if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusServiceUnavailable] == 0 {
				t.Errorf("no injected faults seen (%v): the test proves nothing", statuses)
			}
			for name, s := range map[string]*spconfigtest.Server{"dev": dev, "prod": prod} {
				count := map[string]int{}
				for _, j := range s.Jobs() {
					count[j.Type]++
					if j.Type == spconfig.JobImport && !j.Preview {
						t.Errorf("%s: a real import was started: %+v", name, j)
					}
				}
				want := map[string]int{"dev": rounds, "prod": 0}[name]
				if count[spconfig.JobExport] != want {
					t.Errorf("%s: %d export jobs, want %d", name, count[spconfig.JobExport], want)
				}
				if want := map[string]int{"dev": 0, "prod": rounds}[name]; count[spconfig.JobImport] != want {
					t.Errorf("%s: %d import jobs, want %d", name, count[spconfig.JobImport], want)
				}
			}
		})
	}
}

// runRound exports dev, then previews the import of its importable objects
// into prod, and checks both flows completed.
func runRound(ctx context.Context, t *testing.T, dev, prod *spconfig.Client) {
	t.Helper()
	var doc spconfig.ExportDocument
	job, h, err := dev.Export(ctx, spconfig.ExportPayload{Description: "fault test"}, spconfig.WaitOptions{}, func(_ int, e spconfig.Entry) error {
		if spconfig.Importable(e.Type()) {
			doc.Objects = append(doc.Objects, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if job.Status != spconfig.StatusComplete || len(doc.Objects) == 0 {
		t.Fatalf("export job %+v gave %d importable objects", job, len(doc.Objects))
	}
	doc.ExportHeader = h

	var started string
	ijob, res, err := prod.Import(ctx, doc.Bytes(), &spconfig.ImportOptions{ExcludeBackup: true}, true, spconfig.WaitOptions{},
		func(j spconfig.Job) error { started = j.JobID; return nil })
	if err != nil {
		t.Fatalf("preview import: %v", err)
	}
	if ijob.Status != spconfig.StatusComplete || res == nil || started != ijob.JobID {
		t.Fatalf("preview import job %+v (started %q), results %v", ijob, started, res)
	}
	errs, warns := res.Count()
	t.Logf("%d objects previewed: %d errors, %d warnings", len(doc.Objects), errs, warns)

}

func startFake(t *testing.T, name string, seed uint64) *spconfigtest.Server {
	t.Helper()
	exp, err := spconfigtest.SampleExport(name)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := spconfigtest.SampleIdentities(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{
		Seed: exp, Identities: ids, Faults: "429=0.3,503=0.1", RandSeed: seed,
	})
	if err != nil {
		t.Fatalf("start fake tenant %s: %v", name, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestClientReadsPartialImport: promoter's client reads what the fake sends for
// a real import that halts half way, in the message shape real tenants use
// ("key": null, "detail" singular): the *JobError carries the results, with
// the objects imported before the halt, the refusal and the backup's job id.
func TestClientReadsPartialImport(t *testing.T) {
	dev := startFake(t, "dev", 1)
	prod := startFake(t, "prod", 2)
	if err := dev.SetFaults(""); err != nil {
		t.Fatal(err)
	}
	if err := prod.SetFaults("reject-object=TRANSFORM:Get Worker Type"); err != nil {
		t.Fatal(err)
	}
	var doc spconfig.ExportDocument
	for _, typ := range []string{"SOURCE", "TRANSFORM"} {
		for _, e := range dev.Objects(typ) {
			if name := e.Key().Name; name == "Active Directory" || name == "Get Worker Type" {
				doc.Objects = append(doc.Objects, e)
			}
		}
	}
	doc.Version, doc.Tenant = 1, dev.Name()
	c, err := spconfig.New(spconfig.Config{BaseURL: prod.URL, APIVersion: "v2025", ClientID: "promoter", ClientSecret: "promoter-secret",
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, res, err := c.Import(ctx, doc.Bytes(), nil, true, spconfig.WaitOptions{}, nil); err != nil {
		t.Fatalf("preview: %v", err)
	} else if m := res.Results["TRANSFORM"].Infos; len(m) != 1 || m[0].Key != "IMPORT_PREVIEW" || m[0].Details != nil {
		t.Errorf("preview infos = %+v, want one IMPORT_PREVIEW without details", m)
	}
	job, res, err := c.Import(ctx, doc.Bytes(), nil, false, spconfig.WaitOptions{}, nil)
	var je *spconfig.JobError
	if !errors.As(err, &je) || je.Results != res || job.Status != spconfig.StatusFailed {
		t.Fatalf("import: job %+v, err %v; want FAILED with a *JobError carrying the results", job, err)
	}
	if !strings.Contains(err.Error(), "Import halted because of errors") || !strings.Contains(err.Error(), "TRANSFORM: Unable to import object") {
		t.Errorf("error %q does not say why", err)
	}
	if got := res.Results["SOURCE"].ImportedObjects; len(got) != 1 || got[0].Name != "Active Directory" {
		t.Errorf("SOURCE importedObjects = %+v", got)
	}
	errs := res.Results["TRANSFORM"].Errors
	if len(errs) != 1 || errs[0].Key != "" || errs[0].Details["reference"] == nil || len(res.Results["TRANSFORM"].ImportedObjects) != 0 {
		t.Errorf("TRANSFORM errors = %+v, want one keyless refusal with its reference", errs)
	}
	if res.ExportJobID == "" {
		t.Error("no backup exportJobId in the results of a FAILED import")
	}
}
