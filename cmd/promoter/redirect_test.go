package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestTokenRedirectToAnotherHostIsRefused makes the prod tenant's token
// endpoint answer 307 to another host: the run fails naming the refused
// redirect, the other host never sees a request (the client secret stays
// home), and nothing is imported.
func TestTokenRedirectToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int64
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	defer thief.Close()
	redirectToken := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/oauth/token") {
				http.Redirect(w, r, thief.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	w := newWorld(t, worldOptions{prod: tenantSetup{wrap: redirectToken}})
	r := w.exec(nil, "run", "--config", w.cfg)
	if n := stolen.Load(); n != 0 {
		t.Errorf("%d requests reached the other host", n)
	}
	if r.code != exitRuntime || !strings.Contains(lastError(r.stderr), "refused a redirect") {
		t.Fatalf("want exit 1 naming the refused redirect, got %s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "prod-secret-XYZZY") {
		t.Errorf("the client secret is in the output")
	}
	if n := w.realImports(); n != 0 {
		t.Errorf("real imports = %d, want 0", n)
	}
}
