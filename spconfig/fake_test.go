package spconfig_test

import (
	"context"
	"net/http"
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
