package main

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// The tests of issue 19's minor items 6-9, 12 and 13 through the real binary.

// failFirst answers the first n requests that match with status code, then
// passes every request on.
func failFirst(n int64, code int, match func(r *http.Request) bool) func(http.Handler) http.Handler {
	var left atomic.Int64
	left.Store(n)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && left.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				_, _ = w.Write([]byte(`{"detailCode":"500.0 Internal Fault","messages":[{"text":"transient"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func isPost(suffix string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, suffix)
	}
}

// TestReliabilityTransientExportFaultsAreRetried (item 7): a 500 on the
// export start and a download cut mid-body do not fail the run: both are
// retried (bounded) and the run imports once. A 500 on the real import's
// start is not retried: the run fails and nothing was imported twice.
func TestReliabilityTransientExportFaultsAreRetried(t *testing.T) {
	t.Parallel()
	t.Run("export start 500 and a cut download", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{dev: tenantSetup{
			opts: func(o *spconfigtest.Options) { o.Faults, o.Rand = "truncate-download=0.5", scriptedRand(true) },
			wrap: failFirst(1, http.StatusInternalServerError, isPost("/sp-config/export")),
		}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitOK {
			t.Fatalf("want the transient faults retried and the run to import, got %s", r)
		}
		if !strings.Contains(r.stderr, "spconfig retry") || !strings.Contains(r.stderr, "downloading again") {
			t.Errorf("the faults did not fire or were not logged:\n%s", r.stderr)
		}
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want 1", n)
		}
		w.intact()
		w.snapshotsWhole(w.devScope())
		w.prodMatchesDev()
	})
	t.Run("import start 500", func(t *testing.T) {
		t.Parallel()
		var imports atomic.Int64
		w := newWorld(t, worldOptions{prod: tenantSetup{wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if isPost("/sp-config/import")(r) && r.URL.Query().Get("preview") == "false" {
					imports.Add(1)
					rw.Header().Set("Content-Type", "application/json")
					rw.WriteHeader(http.StatusInternalServerError)
					_, _ = rw.Write([]byte(`{"messages":[{"text":"transient"}]}`))
					return
				}
				h.ServeHTTP(rw, r)
			})
		}}})
		r := w.exec(nil, "run", "--config", w.cfg)
		if r.code != exitRuntime {
			t.Fatalf("want exit 1 after a 500 on the import start, got %s", r)
		}
		if n := imports.Load(); n != 1 {
			t.Errorf("the real import was requested %d times, want once (never retried on 500)", n)
		}
		for _, j := range w.prod.Jobs() {
			if j.Type == spconfig.JobImport && !j.Preview {
				t.Errorf("a real import job ran: %+v", j)
			}
		}
	})
}
