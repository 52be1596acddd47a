package spconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAPIErrorShapes(t *testing.T) {
	dto := `{"detailCode":"400.1 Bad Request Content","trackingId":"e7eab609","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"The request was syntactically correct but its content is semantically invalid."}],"causes":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"includeTypes[0] is invalid"}]}`
	tests := []struct {
		name   string
		op     string
		status int
		header map[string]string
		body   string
		want   APIError
		// classification: temporary, notFound, unauthorized, forbidden
		class    [4]bool
		contains []string
	}{
		{
			name: "ErrorResponseDto", op: opExport, status: 400, body: dto,
			want: APIError{StatusCode: 400, DetailCode: "400.1 Bad Request Content", TrackingID: "e7eab609", Method: "POST", Operation: opExport,
				Messages: []ErrorMessage{
					{Locale: "en-US", LocaleOrigin: "DEFAULT", Text: "The request was syntactically correct but its content is semantically invalid."},
					{Locale: "en-US", LocaleOrigin: "DEFAULT", Text: "includeTypes[0] is invalid"},
				}},
			contains: []string{"exportSpConfig", "400 Bad Request", "400.1 Bad Request Content", "includeTypes[0] is invalid", "e7eab609"},
		},
		{
			name: "429 message shape", op: opExportStatus, status: 429, header: map[string]string{"Retry-After": "12"}, body: `{"message":" Rate Limit Exceeded "}`,
			want:     APIError{StatusCode: 429, Method: "POST", Operation: opExportStatus, RetryAfter: 12 * time.Second, Messages: []ErrorMessage{{Text: "Rate Limit Exceeded"}}},
			class:    [4]bool{true, false, false, false},
			contains: []string{"429 Too Many Requests", "Rate Limit Exceeded", "100 requests per 10 s"},
		},
		{
			name: "403 ORG_ADMIN", op: opImport, status: 403, body: `{"detailCode":"403 Forbidden","trackingId":"t3","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"The server understood the request but refuses to authorize it."}]}`,
			want: APIError{StatusCode: 403, DetailCode: "403 Forbidden", TrackingID: "t3", Method: "POST", Operation: opImport,
				Messages: []ErrorMessage{{Locale: "en-US", LocaleOrigin: "DEFAULT", Text: "The server understood the request but refuses to authorize it."}}},
			class:    [4]bool{false, false, false, true},
			contains: []string{"ORG_ADMIN", "personal access token"},
		},
		{
			name: "401", op: opConfigObjects, status: 401, body: `{"error":"JWT validation failed: JWT is expired"}`,
			want:     APIError{StatusCode: 401, Method: "POST", Operation: opConfigObjects, Messages: []ErrorMessage{{Text: "JWT validation failed: JWT is expired"}}},
			class:    [4]bool{false, false, true, false},
			contains: []string{"check the client id and client secret"},
		},
		{
			name: "404 job", op: opImportDownload, status: 404, body: `{"detailCode":"404 Not found","trackingId":"t4","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"The server did not find a current representation for the target resource."}]}`,
			want: APIError{StatusCode: 404, DetailCode: "404 Not found", TrackingID: "t4", Method: "POST", Operation: opImportDownload,
				Messages: []ErrorMessage{{Locale: "en-US", LocaleOrigin: "DEFAULT", Text: "The server did not find a current representation for the target resource."}}},
			class:    [4]bool{false, true, false, false},
			contains: []string{"expired"},
		},
		{
			name: "plain text 502", op: opExportStatus, status: 502, header: map[string]string{"Retry-After": "Sat, 01 Mar 2025 12:00:30 GMT"}, body: "<html>\n<body>Bad   Gateway</body></html>",
			want:     APIError{StatusCode: 502, Method: "POST", Operation: opExportStatus, RetryAfter: 30 * time.Second, Messages: []ErrorMessage{{Text: "<html> <body>Bad Gateway</body></html>"}}},
			class:    [4]bool{true, false, false, false},
			contains: []string{"502 Bad Gateway", "retry later"},
		},
		{
			name: "empty 500", op: opExportStatus, status: 500, body: "",
			want:  APIError{StatusCode: 500, Method: "POST", Operation: opExportStatus},
			class: [4]bool{true, false, false, false},
		},
		{
			name: "token endpoint refuses credentials", op: opToken, status: 400, body: `{"error":"invalid_client","error_description":"Bad credentials"}`,
			want:     APIError{StatusCode: 400, Method: "POST", Operation: opToken, Messages: []ErrorMessage{{Text: "invalid_client: Bad credentials"}}},
			class:    [4]bool{false, false, true, false},
			contains: []string{"check the client id and client secret"},
		},
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got := decodeAPIError("POST", tc.op, tc.status, h, []byte(tc.body), now)
			if d := cmp.Diff(tc.want, *got); d != "" {
				t.Errorf("decoded (-want +got):\n%s", d)
			}
			class := [4]bool{got.Temporary(), got.NotFound(), got.Unauthorized(), got.Forbidden()}
			if class != tc.class {
				t.Errorf("Temporary/NotFound/Unauthorized/Forbidden = %v, want %v", class, tc.class)
			}
			msg := got.Error()
			for _, s := range tc.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("Error() = %q, want it to contain %q", msg, s)
				}
			}
			if msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("Error() starts upper case: %q", msg)
			}
		})
	}
}

// TestAPIErrorFromServer checks that non-2xx answers arrive as *APIError
// through the client, for each shape.
func TestAPIErrorFromServer(t *testing.T) {
	tt := newTestTenant(t, script(scripted{status: 403, body: `{"detailCode":"403 Forbidden","trackingId":"abc","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"forbidden"}]}`}))
	c := tt.client(nil)
	_, err := c.ConfigObjects(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || !ae.Forbidden() || ae.TrackingID != "abc" || ae.Method != "GET" || ae.Operation != opConfigObjects {
		t.Fatalf("error = %#v, want a forbidden *APIError", err)
	}
	if n := len(tt.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (403 is not retried)", n)
	}
}

func FuzzDecodeAPIError(f *testing.F) {
	f.Add(429, `{"message":"Rate Limit Exceeded"}`, "5")
	f.Add(400, `{"detailCode":"x","messages":[{"text":"y"}],"causes":null}`, "")
	f.Add(500, "\xff\xfe not json", "Sat, 01 Mar 2025 12:00:09 GMT")
	f.Add(401, `{"message":{"nested":true}}`, "1e400")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		h := http.Header{"Retry-After": {retryAfter}}
		e := decodeAPIError("GET", opExportStatus, status, h, []byte(body), time.Unix(0, 0))
		if e.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v", e.RetryAfter)
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "spconfig getSpConfigExportStatus (GET): ") {
			t.Fatalf("Error() = %q", msg)
		}
	})
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2-value")
	cfg := Config{ClientID: "id", ClientSecret: s}
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	log.Info("cfg", "secret", s, "cfg", cfg)
	jlog := slog.New(slog.NewJSONHandler(&logged, nil))
	jlog.Info("cfg", "secret", s, "cfg", cfg)
	js, err := json.Marshal(struct {
		ID     string
		Secret Secret `json:"secret"`
	}{"id", s})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%s": fmt.Sprintf("%s", s), "%v": fmt.Sprintf("%v", s), "%q": fmt.Sprintf("%q", s),
		"%x": fmt.Sprintf("%x", s), "%#v": fmt.Sprintf("%#v", s), "%d": fmt.Sprintf("%d", s),
		"String": s.String(), "GoString": s.GoString(),
		"struct %+v": fmt.Sprintf("%+v", cfg), "struct %#v": fmt.Sprintf("%#v", cfg),
		"json": string(js), "slog": logged.String(),
		"error": fmt.Errorf("wrap %v", s).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s does not say REDACTED: %s", name, out)
		}
	}
	if s.Reveal() != "hunter2-value" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
}

func TestJobAndTimeoutErrors(t *testing.T) {
	je := &JobError{Job: Job{JobID: "j1", Type: JobImport, Status: StatusFailed, Message: "boom"},
		Results: &ImportResults{Results: map[string]ObjectImportResult{"SOURCE": {Errors: []Message{{Key: "K", Text: "bad ref"}}}}}}
	for _, s := range []string{"import job j1 FAILED", "boom", "1 errors", "SOURCE: bad ref"} {
		if !strings.Contains(je.Error(), s) {
			t.Errorf("JobError %q lacks %q", je.Error(), s)
		}
	}
	te := &TimeoutError{JobID: "j2", Type: JobExport, Timeout: time.Minute, Last: Job{Status: StatusInProgress}}
	if !errors.Is(te, context.DeadlineExceeded) || !strings.Contains(te.Error(), "export job j2: still IN_PROGRESS after 1m0s") {
		t.Errorf("TimeoutError = %q", te.Error())
	}
}
