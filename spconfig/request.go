package spconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"promoter/retry"
)

// Operation names (the API's v2025 operationIds), used in errors, logs and
// RequestEvents whatever the API version.
const (
	opConfigObjects  = "listSpConfigObjects"
	opExport         = "exportSpConfig"
	opExportStatus   = "getSpConfigExportStatus"
	opExportDownload = "getSpConfigExport"
	opImport         = "importSpConfig"
	opImportStatus   = "getSpConfigImportStatus"
	opImportDownload = "getSpConfigImport"
	opToken          = "oauthToken"

	opListUploads  = "listUploadedConfigurations"
	opUpload       = "createUploadedConfiguration"
	opGetUpload    = "getUploadedConfiguration"
	opDeleteUpload = "deleteUploadedConfiguration"
	opListActions  = "listScheduledActions"
	opCreateAction = "createScheduledAction"
	opDeleteAction = "deleteScheduledAction"
	opListDrafts   = "listDrafts"
	opDeleteDraft  = "deleteDraft"
	opListDeploys  = "listDeploys"
	opCreateDeploy = "createDeploy"
	opGetDeploy    = "getDeploy"
)

// retryPolicy says which failures of a call may be retried.
type retryPolicy int

const (
	// retryIdempotent (GET): 429, 5xx and transport errors.
	retryIdempotent retryPolicy = iota
	// retryRefused (a POST that starts a job): only answers that prove the
	// server did not act, 429 and 503. Never a timeout, a transport error or
	// a 500: the job may have started, and a retry could start a second one.
	retryRefused
)

func (p retryPolicy) retryStatus(code int) bool {
	switch p {
	case retryRefused:
		return code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable
	default:
		return code == http.StatusTooManyRequests || code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported
	}
}

// call is one API operation. body, when set, returns a fresh reader for each
// attempt.
type call struct {
	op          string
	method      string
	path        string // below the sp-config prefix, e.g. "/export" (the hub's for a hubOp)
	query       url.Values
	contentType string
	body        func() (io.Reader, int64)
	policy      retryPolicy
}

// do is the one request path of the client: rate limiter, token, request,
// error decoding, 401 refresh, retries with backoff, logging and the
// observer. It returns a 2xx response whose body the caller must close.
func (c *Client) do(ctx context.Context, cl call) (*http.Response, error) {
	u := *c.base
	u.Path = c.prefix + cl.path
	if hubOp(cl.op) { // below the Configuration Hub prefix instead
		u.Path = c.hubPrefix + cl.path
	}
	u.RawQuery = cl.query.Encode()
	target := cl.method + " " + u.Path
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := c.limiter.wait(ctx); err != nil {
			return nil, fmt.Errorf("spconfig %s %s: waiting for the rate limiter: %w", cl.op, target, err)
		}
		tok, tev, err := c.auth.get(ctx)
		if tev != nil {
			// The API request was not sent yet, so a failed token request is
			// safe to retry for every call, import included.
			tev.Retry = err != nil && ctx.Err() == nil && retryableTokenError(err) && attempt < c.maxRetries
			c.observe(*tev)
		}
		if err != nil {
			if ctx.Err() == nil && retryableTokenError(err) && attempt < c.maxRetries {
				if werr := c.backoff(ctx, cl, attempt, err); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, fmt.Errorf("spconfig %s %s: get access token: %w", cl.op, target, err)
		}

		var body io.Reader = http.NoBody
		var length int64
		if cl.body != nil {
			body, length = cl.body()
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
		if err != nil {
			return nil, fmt.Errorf("spconfig %s %s: %w", cl.op, target, err)
		}
		req.ContentLength = length
		if cl.body != nil {
			req.GetBody = func() (io.ReadCloser, error) { r, _ := cl.body(); return io.NopCloser(r), nil }
			req.Header.Set("Content-Type", cl.contentType)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "promoter-spconfig")
		req.Header.Set("Authorization", "Bearer "+tok)

		start := c.now()
		resp, err := c.http.Do(req)
		ev := RequestEvent{Method: cl.method, Operation: cl.op, Duration: c.now().Sub(start)}
		if err != nil {
			if ctx.Err() != nil {
				ev.Err = context.Cause(ctx)
				c.observe(ev)
				return nil, fmt.Errorf("spconfig %s %s: %w", cl.op, target, context.Cause(ctx))
			}
			terr := c.transportError(cl.op, target, err)
			ev.Err = terr
			ev.Retry = cl.policy == retryIdempotent && attempt < c.maxRetries && !terr.permanent()
			c.observe(ev)
			if !ev.Retry {
				if cl.policy == retryRefused {
					return nil, fmt.Errorf("%w (not retried: the request may have reached the tenant and started a job; check the tenant's %s jobs before starting another)", terr, jobKind(cl.op))
				}
				return nil, terr
			}
			if werr := c.backoff(ctx, cl, attempt, terr); werr != nil {
				return nil, werr
			}
			continue
		}
		ev.StatusCode = resp.StatusCode
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			c.observe(ev)
			return resp, nil
		}

		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		ae := decodeAPIError(cl.method, cl.op, resp.StatusCode, resp.Header, []byte(c.auth.redact(string(raw))), c.now())
		ev.Err = ae
		if ae.StatusCode == http.StatusTooManyRequests && ae.RetryAfter > 0 {
			c.limiter.pause(c.now().Add(min(ae.RetryAfter, maxRetryAfter)))
		}
		if ae.StatusCode == http.StatusUnauthorized && !refreshed {
			// The token expired early or was revoked: the server refused the
			// request, so one retry with a fresh token is safe for every call.
			refreshed = true
			c.auth.invalidate(tok)
			ev.Retry = true
			c.observe(ev)
			c.log.LogAttrs(ctx, slog.LevelWarn, "spconfig token refused, refreshing", attrs(cl, target, ae)...)
			attempt--
			continue
		}
		ev.Retry = cl.policy.retryStatus(ae.StatusCode) && attempt < c.maxRetries
		c.observe(ev)
		if !ev.Retry {
			return nil, ae
		}
		if werr := c.backoff(ctx, cl, attempt, ae); werr != nil {
			return nil, werr
		}
	}
}

// backoff sleeps before retry number attempt+1 of cl after err, honouring the
// server's Retry-After. It returns err (wrapped) when the context would end
// before the wait does.
func (c *Client) backoff(ctx context.Context, cl call, attempt int, cause error) error {
	var retryAfter time.Duration
	var ae *APIError
	if errors.As(cause, &ae) {
		retryAfter = ae.RetryAfter
	}
	d := c.retryWait(attempt, retryAfter)
	if dl, ok := ctx.Deadline(); ok && c.now().Add(d).After(dl) {
		return fmt.Errorf("%w (not retried: the next retry in %s would pass the deadline)", cause, d.Round(time.Millisecond))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "spconfig retry", append(attrs(cl, "", cause), slog.Duration("wait", d), slog.Int("attempt", attempt+1))...)
	if err := c.sleep(ctx, d); err != nil {
		return fmt.Errorf("%w (retry abandoned: %w)", cause, err)
	}
	return nil
}

// retryWait is the jittered exponential backoff for attempt (0-based):
// uniformly in [b/2, b] with b = min(waitMax, waitMin*2^attempt), raised to
// retryAfter (bounded by maxRetryAfter) when the server asked for longer.
func (c *Client) retryWait(attempt int, retryAfter time.Duration) time.Duration {
	return retry.Backoff{Min: c.waitMin, Max: c.waitMax, MaxRetryAfter: maxRetryAfter}.Delay(attempt, retryAfter)
}

func retryableTokenError(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var te *transportError
	return errors.As(err, &te) && !te.permanent()
}

func (c *Client) transportError(op, target string, err error) *transportError {
	te := &transportError{op: op, target: target, msg: c.auth.redact(err.Error()), untrusted: untrustedCertificate(err), redirect: isRedirect(err)}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		te.timeout = true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		te.msg = c.auth.redact(ue.Err.Error())
	}
	var re *redirectError
	if errors.As(err, &re) {
		te.msg = re.Error()
	}
	return te
}

func (c *Client) observe(ev RequestEvent) {
	c.log.LogAttrs(context.Background(), slog.LevelDebug, "spconfig request",
		slog.String("method", ev.Method), slog.String("operation", ev.Operation),
		slog.Int("status", ev.StatusCode), slog.Duration("duration", ev.Duration),
		slog.Bool("retry", ev.Retry), errAttr(ev.Err))
	if c.observer != nil {
		c.observer(ev)
	}
}

func jobKind(op string) string {
	switch op {
	case opImport:
		return "import"
	case opUpload:
		return "Configuration Hub upload"
	case opCreateAction:
		return "Configuration Hub scheduled action"
	case opCreateDeploy:
		return "Configuration Hub deploy"
	}
	return "export"
}

func attrs(cl call, target string, err error) []slog.Attr {
	a := []slog.Attr{slog.String("operation", cl.op), slog.String("method", cl.method)}
	if target != "" {
		a = append(a, slog.String("target", target))
	}
	return append(a, errAttr(err))
}

func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("err", err.Error())
}

// bytesBody returns a body function over b.
func bytesBody(b []byte) func() (io.Reader, int64) {
	return func() (io.Reader, int64) { return bytes.NewReader(b), int64(len(b)) }
}
