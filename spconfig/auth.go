package spconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"promoter/retry"
)

// assumedTokenLifetime is used when the token endpoint does not say how long
// a token lives. ISC tokens live about 12 minutes.
const assumedTokenLifetime = 10 * time.Minute

// tokenCache holds the current access token and fetches a new one, through
// clientcredentials, shortly before it expires or after the API refused it.
type tokenCache struct {
	conf     clientcredentials.Config
	http     *http.Client
	now      func() time.Time
	tokenURL string

	mu      sync.Mutex
	token   string
	refresh time.Time // fetch a new token at or after this time
	fetches int       // number of successful fetches, for tests
}

func newTokenCache(id string, secret Secret, tokenURL string, hc *http.Client, now func() time.Time) *tokenCache {
	return &tokenCache{
		conf: clientcredentials.Config{
			ClientID:     id,
			ClientSecret: secret.Reveal(),
			TokenURL:     tokenURL,
		},
		http:     hc,
		now:      now,
		tokenURL: tokenURL,
	}
}

// get returns a valid token, fetching one when there is none or the current
// one is close to expiry. ev is non-nil when this call made a token request:
// it describes that request for the caller's Observer.
func (t *tokenCache) get(ctx context.Context) (tok string, ev *RequestEvent, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.refresh) {
		return t.token, nil, nil
	}
	start := t.now()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.http)
	ot, ferr := t.conf.Token(ctx)
	ev = &RequestEvent{Method: http.MethodPost, Operation: opToken, Duration: t.now().Sub(start)}
	if ferr != nil {
		err = t.tokenError(ctx, ferr)
		ev.Err = err
		var ae *APIError
		if errors.As(err, &ae) {
			ev.StatusCode = ae.StatusCode
		}
		return "", ev, err
	}
	ev.StatusCode = http.StatusOK
	if ot.AccessToken == "" {
		err = fmt.Errorf("spconfig oauthToken %s: the token endpoint answered without an access_token: check tokenURL", t.tokenURL)
		ev.Err = err
		return "", ev, err
	}
	lifetime := time.Duration(ot.ExpiresIn) * time.Second
	if lifetime <= 0 && !ot.Expiry.IsZero() {
		lifetime = time.Until(ot.Expiry)
	}
	if lifetime <= 0 {
		lifetime = assumedTokenLifetime
	}
	// Refresh before expiry: a minute early, or a quarter of the lifetime for
	// short-lived tokens, so a request never carries a token about to expire.
	margin := min(time.Minute, lifetime/4)
	t.token = ot.AccessToken
	t.refresh = t.now().Add(lifetime - margin)
	t.fetches++
	return t.token, ev, nil
}

// invalidate drops tok if it is still the cached token, so the next get
// fetches a new one.
func (t *tokenCache) invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == tok {
		t.token = ""
		t.refresh = time.Time{}
	}
}

// redact removes the secret and the current token from s.
func (t *tokenCache) redact(s string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.redactLocked(s)
}

func (t *tokenCache) redactLocked(s string) string {
	tok := t.token
	if sec := t.conf.ClientSecret; len(sec) >= 4 {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	if len(tok) >= 4 {
		s = strings.ReplaceAll(s, tok, redacted)
	}
	return s
}

// tokenError (called with t.mu held) turns a token fetch failure into an error that never contains
// the secret or a token: an *APIError for an HTTP answer (without its body,
// only the OAuth2 error code and description), else a transport error.
func (t *tokenCache) tokenError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("spconfig oauthToken %s: %w", t.tokenURL, context.Cause(ctx))
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		ae := &APIError{StatusCode: re.Response.StatusCode, Method: http.MethodPost, Operation: opToken,
			RetryAfter: retry.After(re.Response.Header.Get("Retry-After"), t.now())}
		if text := strings.TrimSpace(strings.Trim(re.ErrorCode+": "+re.ErrorDescription, ": ")); text != "" {
			ae.Messages = []ErrorMessage{{Text: t.redactLocked(text)}}
		}
		return ae
	}
	msg := err.Error()
	var rd *redirectError
	if errors.As(err, &rd) {
		msg = rd.Error() // without the target's path and query
	}
	return &transportError{op: opToken, target: t.tokenURL, msg: t.redactLocked(msg), untrusted: untrustedCertificate(err), redirect: rd != nil}
}

// transportError is a request that got no HTTP answer. Its text is redacted;
// it keeps no reference to the original error.
type transportError struct {
	op, target, msg string
	timeout         bool
	// untrusted: TLS certificate verification failed. Retrying cannot help,
	// so it is never retried.
	untrusted bool
	// redirect: a redirect to another host or scheme was refused; never
	// retried either.
	redirect bool
}

// permanent reports whether a retry cannot help.
func (e *transportError) permanent() bool { return e.untrusted || e.redirect }

func isRedirect(err error) bool {
	var re *redirectError
	return errors.As(err, &re)
}

// untrustedCertificate reports whether err is a failed TLS certificate
// verification.
func untrustedCertificate(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

func (e *transportError) Error() string {
	if e.redirect {
		return "spconfig " + e.op + " " + e.target + ": " + e.msg
	}
	if e.untrusted {
		return "spconfig " + e.op + " " + e.target + ": the tenant's certificate is not trusted: " + e.msg +
			"; if the tenant or a proxy uses a private certificate authority, point SSL_CERT_FILE at a PEM file holding its certificate (or SSL_CERT_DIR at a folder of them)"
	}
	return "spconfig " + e.op + " " + e.target + ": no answer from the tenant: " + e.msg
}

// Timeout reports whether the failure was a timeout.
func (e *transportError) Timeout() bool { return e.timeout }
