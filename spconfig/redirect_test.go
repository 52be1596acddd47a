package spconfig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRedirectsToAnotherHostOrSchemeAreRefused answers the token request and
// API requests with 307 redirects to another host (a second server that
// counts what reaches it) or to https on the same host: the call fails at
// once, naming the redirect, without a retry, and nothing reaches the other
// host; a redirect within the host is followed.
func TestRedirectsToAnotherHostOrSchemeAreRefused(t *testing.T) {
	var stolen atomic.Int64
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		writeJSON(w, 200, `{"access_token":"tok-9","token_type":"bearer"}`)
	}))
	defer thief.Close()

	tests := []struct {
		name  string
		token bool   // redirect the token request, else the API request
		to    string // target of the redirect; "" means https on the same host
	}{
		{"token to another host", true, thief.URL},
		{"token to another scheme", true, ""},
		{"api to another host", false, thief.URL},
		{"api to another scheme", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stolen.Store(0)
			var hits atomic.Int64
			var tenant *testTenant
			redirect := func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				to := tt.to
				if to == "" {
					to = "https://" + r.Host
				}
				http.Redirect(w, r, to+r.URL.Path+"?x=1", http.StatusTemporaryRedirect)
			}
			var c *Client
			if tt.token {
				front := httptest.NewServer(http.HandlerFunc(redirect))
				defer front.Close()
				tenant = newTestTenant(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[]`) })
				c = tenant.client(func(cfg *Config) { cfg.TokenURL = front.URL + "/oauth/token" })
			} else {
				tenant = newTestTenant(t, redirect)
				c = tenant.client(nil)
			}
			_, err := c.ConfigObjects(context.Background())
			if err == nil || !strings.Contains(err.Error(), "refused a redirect") {
				t.Fatalf("want the redirect refused, got %v", err)
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "x=1") {
				t.Errorf("the error shows the secret or the redirect's query: %v", err)
			}
			if n := stolen.Load(); n != 0 {
				t.Errorf("%d requests reached the other host", n)
			}
			if n := hits.Load(); n > 2 {
				t.Errorf("the redirected request was sent %d times: it must not be retried", n)
			}
			if s := tenant.clock.Sleeps(); len(s) != 0 {
				t.Errorf("the client backed off %v before giving up", s)
			}
		})
	}
	t.Run("within the host", func(t *testing.T) {
		tenant := newTestTenant(t, func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/moved") {
				http.Redirect(w, r, r.URL.Path+"/moved", http.StatusTemporaryRedirect)
				return
			}
			writeJSON(w, 200, `[]`)
		})
		if _, err := tenant.client(nil).ConfigObjects(context.Background()); err != nil {
			t.Fatalf("a redirect within the host failed: %v", err)
		}
	})
}
