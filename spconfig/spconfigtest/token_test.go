package spconfigtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
)

// postToken posts a token request and returns the status and decoded body.
func postToken(t *testing.T, tokenURL string, body *bytes.Buffer, contentType string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(tokenURL, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, m
}

// TestTokenEncodings: the token endpoint takes client credentials urlencoded
// (SailPoint's Go SDK), as multipart/form-data (the TypeScript SDK) and with
// grant_type in the query string (the SailPoint CLI).
func TestTokenEncodings(t *testing.T) {
	f := start(t, "prod", nil)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"promoter"}, "client_secret": {"promoter-secret"}}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, v := range form {
		mw.WriteField(k, v[0])
	}
	mw.Close()
	tests := []struct {
		name, query, ct string
		body            *bytes.Buffer
	}{
		{"urlencoded", "", "application/x-www-form-urlencoded", bytes.NewBufferString(form.Encode())},
		{"multipart", "", mw.FormDataContentType(), &mp},
		{"grant type in the query", "?grant_type=client_credentials", "application/x-www-form-urlencoded", bytes.NewBufferString("client_id=promoter&client_secret=promoter-secret")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, f.srv.URL+"/oauth/token"+tc.query, tc.body, tc.ct)
			if status != http.StatusOK || body["access_token"] == nil {
				t.Fatalf("status %d body %v", status, body)
			}
			f.token = body["access_token"].(string)
			if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != http.StatusOK {
				t.Errorf("the token does not work: %d %s", r.status, r.body)
			}
		})
	}
}

// TestTokenIsJWT: access tokens are RS256 JWTs with the claims of an ISC
// token, and the token response has the fields of the SDKs' token model.
func TestTokenIsJWT(t *testing.T) {
	f := start(t, "prod", nil)
	status, body := postToken(t, f.srv.URL+"/oauth/token", bytes.NewBufferString("grant_type=client_credentials&client_id=promoter&client_secret=promoter-secret"), "application/x-www-form-urlencoded")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for _, k := range []string{"access_token", "token_type", "expires_in", "scope", "tenant_id", "pod", "strong_auth_supported", "org", "identity_id", "user_name", "strong_auth", "jti"} {
		if _, ok := body[k]; !ok {
			t.Errorf("token response lacks %q: %v", k, body)
		}
	}
	if body["org"] != "acme" || body["user_name"] != "slpt.services" || body["scope"] != "sp:scopes:all" || body["expires_in"] != float64(720) {
		t.Errorf("token response = %v", body)
	}
	parts := strings.Split(body["access_token"].(string), ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts, want a compact JWS", len(parts))
	}
	var head map[string]string
	var claims map[string]any
	for i, v := range []any{&head, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("part %d is not base64url JSON: %v", i, err)
		}
	}
	if head["alg"] != "RS256" || head["typ"] != "JWT" || head["kid"] == "" {
		t.Errorf("header = %v", head)
	}
	for _, k := range []string{"tenant_id", "pod", "org", "identity_id", "user_name", "scope", "exp", "client_id", "jti", "authorities"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claims lack %q: %v", k, claims)
		}
	}
	if exp := int64(claims["exp"].(float64)); exp != f.clock.Now().Add(12*time.Minute).Unix() || claims["client_id"] != "promoter" || claims["tenant_id"] != body["tenant_id"] {
		t.Errorf("claims = %v", claims)
	}
	// A changed signature, a token of another tenant: 401.
	sig := []byte(parts[2])
	sig[3] ^= 1
	f.token = parts[0] + "." + parts[1] + "." + string(sig)
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != http.StatusUnauthorized {
		t.Errorf("forged token: %d", r.status)
	}
	other := start(t, "dev", nil)
	f.token = other.token
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != http.StatusUnauthorized {
		t.Errorf("token of another tenant: %d", r.status)
	}
}

// TestScopes: a client with only sp:config:read may export but not import
// (the spec's userAuth lists); the 403 has the documented body.
func TestScopes(t *testing.T) {
	f := start(t, "dev", func(o *Options) { o.Scopes = []string{"sp:config:read"} })
	if r := f.do("GET", f.prefix+"/config-objects", nil, ""); r.status != http.StatusOK {
		t.Errorf("config-objects: %d", r.status)
	}
	j := f.startExport(spconfig.ExportPayload{})
	f.wait("export", j.JobID)
	body, ct := multipartBody(t, docOf("x"), nil)
	r := f.do("POST", f.prefix+"/import?preview=true", body, ct)
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), `"detailCode":"403 Forbidden"`) ||
		!strings.Contains(string(r.body), "The server understood the request but refuses to authorize it.") {
		t.Errorf("import with sp:config:read: %d %s", r.status, r.body)
	}
	if r := f.do("GET", f.prefix+"/import/"+j.JobID, nil, ""); r.status != http.StatusForbidden {
		t.Errorf("import status with sp:config:read: %d", r.status)
	}
	if n := len(f.srv.Jobs()); n != 1 {
		t.Errorf("%d jobs, want only the export", n)
	}
}

// TestInjectedFaultBodies: injected statuses carry the spec's documented
// bodies.
func TestInjectedFaultBodies(t *testing.T) {
	for _, tc := range []struct {
		spec, detailCode, text string
		status                 int
	}{
		{"403=1", "403 Forbidden", "The server understood the request but refuses to authorize it.", 403},
		{"500=1", "500.0 Internal Fault", "An internal fault occurred.", 500},
	} {
		f := start(t, "", func(o *Options) { o.Faults = tc.spec })
		r := f.do("GET", f.prefix+"/config-objects", nil, "")
		e := decode[struct {
			DetailCode string `json:"detailCode"`
			Messages   []struct{ Text string }
		}](t, r.body)
		if r.status != tc.status || e.DetailCode != tc.detailCode || len(e.Messages) != 1 || e.Messages[0].Text != tc.text {
			t.Errorf("%s: %d %s", tc.spec, r.status, r.body)
		}
	}
}

// TestMethodNotAllowed: a wrong method on a known path is 405 with Allow;
// an unknown path stays 404.
func TestMethodNotAllowed(t *testing.T) {
	f := start(t, "dev", nil)
	for _, tc := range []struct {
		method, path, allow string
		want                int
	}{
		{"GET", f.prefix + "/import", "POST", 405},
		{"DELETE", f.prefix + "/export/x", "GET", 405},
		{"POST", "/sp-config/v1/config-objects", "GET", 405},
		{"GET", "/oauth/token", "POST", 405},
		{"POST", "/_fake/jobs", "GET", 405},
		{"GET", f.prefix + "/nope", "", 404},
	} {
		r := f.do(tc.method, tc.path, nil, "")
		if r.status != tc.want || r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.want, tc.allow)
		}
	}
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	hex32RE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// TestIDs: job ids are random UUIDs that differ between tenants started
// alike, new objects get the id form of their type, and IDSeed makes them
// reproducible.
func TestIDs(t *testing.T) {
	firstJob := func(seed string) string {
		f := start(t, "dev", func(o *Options) { o.IDSeed = seed })
		return f.startExport(spconfig.ExportPayload{}).JobID
	}
	a, b := firstJob(""), firstJob("")
	if a == b || !uuidRE.MatchString(a) {
		t.Errorf("first job ids %s and %s: want two different random UUIDs", a, b)
	}
	if a, b := firstJob("s1"), firstJob("s1"); a != b || !uuidRE.MatchString(a) {
		t.Errorf("seeded first job ids %s and %s: want the same UUID", a, b)
	}
	f := start(t, "prod", nil)
	for _, tc := range []struct {
		entry string
		re    *regexp.Regexp
	}{
		{`{"version":1,"self":{"name":"N1","type":"TAG"},"object":{"name":"N1"}}`, uuidRE},
		{`{"version":1,"self":{"name":"N2","id":"x","type":"ROLE"},"object":{"id":"x","name":"N2"}}`, hex32RE},
	} {
		if r := f.do("PUT", "/_fake/objects", strings.NewReader(tc.entry), ""); r.status != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", tc.entry, r.status, r.body)
		}
		e, _ := spconfig.NewEntry([]byte(tc.entry))
		got := find(t, f.srv.Objects(e.Type()), e.Type(), e.Key().Name)
		var obj struct {
			ID string `json:"id"`
		}
		json.Unmarshal(got.Object(), &obj)
		if !tc.re.MatchString(got.Self.ID) || obj.ID != got.Self.ID {
			t.Errorf("new %s: self.id %q, object.id %q, want a fresh id of the form %s", e.Type(), got.Self.ID, obj.ID, tc.re)
		}
	}
}
