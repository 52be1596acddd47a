package spconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"promoter/retry"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAPIVersion   = "v2025"
	DefaultMaxRetries   = 6
	DefaultRetryWaitMin = 500 * time.Millisecond
	DefaultRetryWaitMax = 30 * time.Second
	DefaultRateLimit    = 95
	DefaultRateWindow   = 10 * time.Second
	// DefaultAttemptTimeout is Config.AttemptTimeout's default.
	DefaultAttemptTimeout = 2 * time.Minute
	// maxRetryAfter bounds how long one Retry-After is honoured; a server asking
	// for more is waited on for this long and then asked again.
	maxRetryAfter = 5 * time.Minute
)

// Config configures a Client. BaseURL, ClientID and ClientSecret are required;
// every other field has a default.
type Config struct {
	// BaseURL is the API host without a version, e.g.
	// https://acme.api.identitynow.com. http:// is accepted only for loopback
	// hosts (127.0.0.1, ::1, localhost), i.e. the fake tenant.
	BaseURL string
	// APIVersion selects the path layout: "beta", "v2024", "v2025" (default) or
	// "v2026" mount the API under /{ver}/sp-config/... and Configuration Hub
	// under /{ver}/configuration-hub/...; "v1" uses the newer /sp-config/v1/...
	// layout for SP-Config and /v2025/configuration-hub/... (Configuration Hub
	// has no per-service layout).
	APIVersion string
	// TokenURL is the OAuth2 token endpoint; default BaseURL + "/oauth/token".
	TokenURL string
	// ClientID and ClientSecret are a personal access token of an ORG_ADMIN
	// identity (or an API client with the sp:config scopes).
	ClientID     string
	ClientSecret Secret
	// HTTPClient sends every request, the token requests included. Default: a
	// client with dial, TLS and response-header timeouts and TLS verification on.
	// Either way a redirect to another scheme or host is refused (not retried).
	HTTPClient *http.Client
	// Logger receives one debug line per HTTP attempt and a warning per retry;
	// never a secret, token or header. Default: discard.
	Logger *slog.Logger
	// AttemptTimeout bounds how long one attempt waits for the answer's
	// headers when HTTPClient is nil (default DefaultAttemptTimeout): a
	// server that accepts the connection and never answers costs this, then
	// the call is retried or fails. With HTTPClient set, its transport's
	// bounds apply instead.
	AttemptTimeout time.Duration
	// MaxRetries is how many times one call is retried after a retryable
	// failure (default 6; negative disables retries). A 401 answered by one
	// token refresh does not count.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the jittered exponential backoff
	// (default 500ms and 30s). A Retry-After header longer than the backoff is
	// honoured (up to 5 minutes per wait).
	RetryWaitMin, RetryWaitMax time.Duration
	// RateLimit requests per RateWindow is the most this client sends (default
	// 95 per 10s, under the tenant's 100 per 10s per client id).
	RateLimit  int
	RateWindow time.Duration
	// Observer, when set, is called after every HTTP attempt (token requests
	// included, as Operation "oauthToken"), e.g. to count requests in metrics.
	Observer func(RequestEvent)

	// Now and Sleep replace the clock, for tests. Sleep must return ctx.Err()
	// when ctx ends first. Nil means real time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// RequestEvent describes one HTTP attempt. It never carries a secret, token
// or header.
type RequestEvent struct {
	Method    string
	Operation string // the API's operationId, e.g. "exportSpConfig", or "oauthToken"
	// StatusCode is the response status, 0 when no response arrived.
	StatusCode int
	// Err is the attempt's error (an *APIError for non-2xx), nil on success.
	Err error
	// Retry reports whether the client sends the call again.
	Retry    bool
	Duration time.Duration
}

// Client is an SP-Config API client for one tenant. It is safe for concurrent
// use; all its calls share one token, one rate limiter and one request path.
type Client struct {
	base   *url.URL
	prefix string // path prefix of the sp-config endpoints, e.g. "/v2025/sp-config"
	// hubPrefix is the path prefix of the Configuration Hub endpoints, e.g.
	// "/v2025/configuration-hub".
	hubPrefix string
	version   string
	http      *http.Client
	log       *slog.Logger
	observer  func(RequestEvent)

	maxRetries       int
	waitMin, waitMax time.Duration

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	auth    *tokenCache
	limiter *limiter
}

var versionRE = regexp.MustCompile(`^(beta|v1|v20[2-9][0-9])$`)

// New checks cfg, applies defaults and returns a client. It does not contact
// the tenant; the first call fetches a token.
func New(cfg Config) (*Client, error) {
	base, err := checkURL("baseURL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if p := strings.TrimRight(base.Path, "/"); p != "" {
		return nil, fmt.Errorf("spconfig config: baseURL %q has the path %q: give the API host only (e.g. https://acme.api.identitynow.com) and choose the version with apiVersion", cfg.BaseURL, p)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("spconfig config: baseURL %q must not have a query or fragment", cfg.BaseURL)
	}
	base.Path, base.RawPath = "", ""

	ver := cfg.APIVersion
	if ver == "" {
		ver = DefaultAPIVersion
	}
	if !versionRE.MatchString(ver) {
		return nil, fmt.Errorf("spconfig config: apiVersion %q is not supported: use beta, v2024, v2025, v2026 or v1", cfg.APIVersion)
	}
	prefix := "/" + ver + "/sp-config"
	hubPrefix := "/" + ver + "/configuration-hub"
	if ver == "v1" {
		// Configuration Hub has no per-service layout: it stays versioned.
		prefix, hubPrefix = "/sp-config/v1", "/"+DefaultAPIVersion+"/configuration-hub"
	}

	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = base.String() + "/oauth/token"
	}
	if _, err := checkURL("tokenURL", tokenURL); err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, errors.New("spconfig config: clientID is empty: set the client id of an ORG_ADMIN personal access token")
	}
	if cfg.ClientSecret == "" {
		return nil, errors.New("spconfig config: clientSecret is empty: set the secret of the personal access token")
	}

	c := &Client{
		base:       base,
		prefix:     prefix,
		hubPrefix:  hubPrefix,
		version:    ver,
		http:       cfg.HTTPClient,
		log:        cfg.Logger,
		observer:   cfg.Observer,
		maxRetries: cfg.MaxRetries,
		waitMin:    cfg.RetryWaitMin,
		waitMax:    cfg.RetryWaitMax,
		now:        cfg.Now,
		sleep:      cfg.Sleep,
	}
	if c.http == nil {
		at := cfg.AttemptTimeout
		if at <= 0 {
			at = DefaultAttemptTimeout
		}
		c.http = defaultHTTPClient(at)
	}
	c.http = guardRedirects(c.http)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.waitMin <= 0 {
		c.waitMin = DefaultRetryWaitMin
	}
	if c.waitMax <= 0 {
		c.waitMax = DefaultRetryWaitMax
	}
	if c.waitMax < c.waitMin {
		c.waitMax = c.waitMin
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = retry.Sleep
	}
	rate, window := cfg.RateLimit, cfg.RateWindow
	if rate <= 0 {
		rate = DefaultRateLimit
	}
	if window <= 0 {
		window = DefaultRateWindow
	}
	c.limiter = newLimiter(rate, window, c.now, c.sleep)
	c.auth = newTokenCache(cfg.ClientID, cfg.ClientSecret, tokenURL, c.http, c.now)
	return c, nil
}

// APIVersion returns the version the client talks ("v2025", "v1", ...).
func (c *Client) APIVersion() string { return c.version }

// BaseURL returns the API host the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

func checkURL(field, raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("spconfig config: %s is empty: set the tenant's API host, e.g. https://acme.api.identitynow.com", field)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("spconfig config: %s %q is not a URL: %w", field, raw, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("spconfig config: %s %q has no host: write it as https://HOST", field, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("spconfig config: %s must not contain credentials: use clientID and clientSecret", field)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("spconfig config: %s %q uses http:// for a host that is not loopback: use https:// (http is only for a fake tenant on 127.0.0.1, ::1 or localhost)", field, raw)
		}
	default:
		return nil, fmt.Errorf("spconfig config: %s %q: scheme must be https", field, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultHTTPClient(attempt time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = attempt
	t.ExpectContinueTimeout = time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 8
	return &http.Client{
		Transport: t,
		// A bound for one attempt including the body; a 100 MB download fits
		// comfortably. Callers bound whole operations with ctx.
		Timeout: 15 * time.Minute,
	}
}
