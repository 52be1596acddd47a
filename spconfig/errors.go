package spconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"promoter/retry"
)

// APIError is a non-2xx answer of the tenant (or of its token endpoint, with
// Operation "oauthToken"). Messages come from the ErrorResponseDto body
// (messages and causes) or the 429 body {message}.
type APIError struct {
	StatusCode int
	DetailCode string
	TrackingID string
	Messages   []ErrorMessage
	Method     string
	Operation  string
	// RetryAfter is the parsed Retry-After header, 0 when absent.
	RetryAfter time.Duration
}

// ErrorMessage is one localized message of an ErrorResponseDto.
type ErrorMessage struct {
	Locale       string `json:"locale,omitempty"`
	LocaleOrigin string `json:"localeOrigin,omitempty"`
	Text         string `json:"text"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("spconfig ")
	b.WriteString(e.Operation)
	if e.Method != "" {
		b.WriteString(" (" + e.Method + ")")
	}
	fmt.Fprintf(&b, ": %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.DetailCode != "" {
		b.WriteString(" (" + e.DetailCode + ")")
	}
	var texts []string
	for _, m := range e.Messages {
		if t := strings.TrimSpace(m.Text); t != "" && !slices.Contains(texts, t) {
			texts = append(texts, t)
		}
	}
	if len(texts) > 0 {
		b.WriteString(": " + strings.Join(texts, "; "))
	}
	if e.TrackingID != "" {
		b.WriteString(" [tracking id " + e.TrackingID + "]")
	}
	if h := e.hint(); h != "" {
		b.WriteString(": " + h)
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch {
	case e.StatusCode == http.StatusUnauthorized, e.Operation == opToken && (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusForbidden):
		return "the tenant rejected the credentials: check the client id and client secret (personal access token), that the token is not revoked, and the token URL"
	case e.StatusCode == http.StatusForbidden && hubOp(e.Operation):
		return "Configuration Hub needs the scopes sp:config-backup:manage (uploads), sp:config-scheduled-action:manage (draft creation), sp:config-draft:manage (drafts) and sp:config-deploy:manage (deploys), or an ORG_ADMIN personal access token"
	case e.StatusCode == http.StatusNotFound && hubOp(e.Operation):
		return "the upload, draft, scheduled action or deploy is unknown to this tenant (deleted, or made in another tenant)"
	case e.StatusCode == http.StatusForbidden:
		return "SP-Config needs a personal access token of an ORG_ADMIN identity (scopes sp:config:read and sp:config:manage): create the token as an ORG_ADMIN user"
	case e.StatusCode == http.StatusNotFound && (e.Operation == opExportStatus || e.Operation == opExportDownload || e.Operation == opImportStatus || e.Operation == opImportDownload):
		return "the job id is unknown to this tenant or its results expired (jobs expire about 7 days after creation)"
	case e.StatusCode == http.StatusNotFound:
		return "check baseURL and apiVersion"
	case e.StatusCode == http.StatusTooManyRequests:
		return "rate limited (the tenant allows 100 requests per 10 s per client id): retry later or lower the request rate"
	case e.StatusCode == http.StatusBadRequest:
		return "the tenant rejected the request: fix what the message names"
	case e.StatusCode >= 500:
		return "the tenant had a server error: retry later; quote the tracking id to SailPoint support if it persists"
	}
	return ""
}

// Temporary reports whether trying again later may succeed (429 and 5xx).
func (e *APIError) Temporary() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// NotFound reports a 404.
func (e *APIError) NotFound() bool { return e.StatusCode == http.StatusNotFound }

// Unauthorized reports a 401 (or a token endpoint refusing the credentials).
func (e *APIError) Unauthorized() bool {
	return e.StatusCode == http.StatusUnauthorized ||
		e.Operation == opToken && (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusForbidden)
}

// Forbidden reports a 403 from the API.
func (e *APIError) Forbidden() bool {
	return e.StatusCode == http.StatusForbidden && e.Operation != opToken
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

// decodeAPIError builds an APIError from a status, the header and the body
// (ErrorResponseDto, the 429 {message}, an OAuth2 error, or plain text).
func decodeAPIError(method, op string, status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{StatusCode: status, Method: method, Operation: op, RetryAfter: retry.After(h.Get("Retry-After"), now)}
	var dto struct {
		DetailCode       string          `json:"detailCode"`
		TrackingID       string          `json:"trackingId"`
		Messages         []ErrorMessage  `json:"messages"`
		Causes           []ErrorMessage  `json:"causes"`
		Message          json.RawMessage `json:"message"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	trimmed := strings.TrimSpace(string(body))
	if err := json.Unmarshal(body, &dto); err == nil {
		e.DetailCode = dto.DetailCode
		e.TrackingID = dto.TrackingID
		e.Messages = append(e.Messages, dto.Messages...)
		e.Messages = append(e.Messages, dto.Causes...)
		if len(dto.Message) > 0 && string(dto.Message) != "null" {
			var s string
			if json.Unmarshal(dto.Message, &s) != nil {
				s = string(dto.Message)
			}
			e.Messages = append(e.Messages, ErrorMessage{Text: strings.TrimSpace(s)})
		}
		if dto.Error != "" || dto.ErrorDescription != "" {
			e.Messages = append(e.Messages, ErrorMessage{Text: strings.TrimSpace(strings.Trim(dto.Error+": "+dto.ErrorDescription, ": "))})
		}
	} else if trimmed != "" {
		e.Messages = []ErrorMessage{{Text: snippet(trimmed, 300)}}
	}
	if e.TrackingID == "" {
		e.TrackingID = h.Get("SLPT-Request-ID")
	}
	return e
}

// snippet returns s on one line, cut to at most n bytes at a rune boundary.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// JobError is a job that ended FAILED or CANCELLED. For an import, Results
// holds the downloaded results when they could be fetched, so callers can show
// why it failed.
type JobError struct {
	Job     Job
	Results *ImportResults
}

func (e *JobError) Error() string {
	kind := strings.ToLower(e.Job.Type)
	if kind == "" {
		kind = "sp-config"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s job %s %s", kind, e.Job.JobID, e.Job.Status)
	if m := strings.TrimSpace(e.Job.Message); m != "" {
		b.WriteString(": " + m)
	}
	if e.Results != nil {
		errs, warns := e.Results.Count()
		fmt.Fprintf(&b, " (%d errors, %d warnings in the results", errs, warns)
		if first := firstErrorText(e.Results); first != "" {
			b.WriteString("; first: " + snippet(first, 300))
		}
		b.WriteString(")")
	}
	switch e.Job.Status {
	case StatusCancelled:
		b.WriteString(": someone or something cancelled the job in the tenant; start it again")
	default:
		b.WriteString(": see the job's results and the tenant's messages, fix the cause and start it again")
	}
	return b.String()
}

func firstErrorText(r *ImportResults) string {
	for _, t := range slices.Sorted(maps.Keys(r.Results)) {
		for _, m := range r.Results[t].Errors {
			if m.Text != "" {
				return t + ": " + m.Text
			}
		}
	}
	return ""
}

// TimeoutError is a job that was still not done when the wait's timeout
// passed. It unwraps to context.DeadlineExceeded.
type TimeoutError struct {
	JobID   string
	Type    string // EXPORT or IMPORT
	Timeout time.Duration
	Last    Job // the last status seen
}

func (e *TimeoutError) Error() string {
	status := e.Last.Status
	if status == "" {
		status = "unknown"
	}
	return fmt.Sprintf("wait for %s job %s: still %s after %s: the job keeps running in the tenant",
		strings.ToLower(e.Type), e.JobID, status, e.Timeout)
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }
