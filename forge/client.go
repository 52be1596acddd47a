package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"promoter/config"
	"promoter/retry"
)

// Default API roots.
const (
	GitHubAPI = "https://api.github.com"
	GitLabAPI = "https://gitlab.com/api/v4"
)

// Options tune a client; zero values take the defaults.
type Options struct {
	HTTP     *http.Client // default: 30 s timeout
	Logger   *slog.Logger
	TokenEnv string // named in authentication errors
	// Attempts bounds the tries of one request on 429, 5xx and transport
	// errors (default 3); delays double from 500 ms, capped at 5 s, with
	// jitter (each between half and all of its step), and honour
	// Retry-After (seconds or an HTTP date) up to 30 s.
	Attempts int
	// Sleep waits between attempts; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client is a forge's pull requests for one repository (GitHub and GitLab
// implement it).
type Client interface {
	// OpenOrUpdate updates the title and body of the open pull request from
	// pr.Branch, or opens one into pr.Base, and returns its URL.
	OpenOrUpdate(ctx context.Context, pr Request) (url string, err error)
	// LastState says what became of the newest pull request from branch:
	// StateOpen, StateMerged, StateClosed (closed without merging), or ""
	// when the forge has none.
	LastState(ctx context.Context, branch string) (string, error)
}

// Request is what a pull-request mode run asks a forge for.
type Request struct {
	Pipeline string
	Branch   string // head branch, e.g. promoter/dev-to-prod
	Base     string // the configured branch
	Title    string
	Body     string // the Markdown plan
}

// States of a pull request (Client.LastState).
const (
	StateOpen   = "open"
	StateMerged = "merged"
	StateClosed = "closed"
)

// New returns the pull-request client a pipeline's pullRequest section
// configures, or nil (and no error) for provider "none" or unset: the branch
// is then only pushed.
func New(cfg config.PullRequest, token string, o Options) (Client, error) {
	if o.TokenEnv == "" {
		o.TokenEnv = cfg.TokenEnv
	}
	switch cfg.Provider {
	case "", "none":
		return nil, nil
	case "github":
		return NewGitHub(cfg.BaseURL, cfg.Repo, token, o)
	case "gitlab":
		return NewGitLab(cfg.BaseURL, cfg.Repo, token, o)
	}
	return nil, fmt.Errorf("pullRequest.provider %q: unknown forge; use github, gitlab or none", cfg.Provider)
}

// Error is a failed forge request. Its text names the forge, the repository,
// the operation and the HTTP status and says what to do; it never contains
// the token.
type Error struct {
	Forge      string // github | gitlab
	Repo       string
	Op         string // e.g. "create pull request promoter/dev-to-prod"
	StatusCode int    // 0 for transport errors
	Status     string
	Message    string // the forge's message, if any
	Hint       string
	Err        error // transport error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s: ", e.Forge, e.Repo, e.Op)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %s", e.Status)
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying may help (429, 5xx, transport).
func (e *Error) Temporary() bool {
	return e.StatusCode == 0 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// backoff spaces the attempts of one request.
var backoff = retry.Backoff{Min: 500 * time.Millisecond, Max: 5 * time.Second, MaxRetryAfter: 30 * time.Second}

// client is the request path both forges share.
type client struct {
	forge, repo, base string
	token             string
	auth              func(h http.Header, token string)
	o                 Options
}

func newClient(forge, base, def, repo, token string, auth func(http.Header, string), o Options) (*client, error) {
	if base == "" {
		base = def
	}
	base = strings.TrimRight(base, "/")
	if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, fmt.Errorf("%s %s: API base URL %q is not an http(s) URL; set pullRequest.baseURL", forge, repo, base)
	}
	if repo == "" {
		return nil, fmt.Errorf("%s: no repository configured; set pullRequest.repo", forge)
	}
	if token == "" {
		return nil, fmt.Errorf("%s %s: no API token; set pullRequest.tokenEnv to a variable holding one", forge, repo)
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Sleep == nil {
		o.Sleep = retry.Sleep
	}
	return &client{forge: forge, repo: repo, base: base, token: token, auth: auth, o: o}, nil
}

// redact removes the token from a text that came from elsewhere.
func (c *client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "REDACTED")
}

// do sends one request (retrying temporary failures) and decodes a 2xx JSON
// response into out.
func (c *client) do(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &Error{Forge: c.forge, Repo: c.repo, Op: op, Err: err}
		}
	}
	var last *Error
	tries := 0
	for attempt := 1; ; attempt++ {
		tries = attempt
		retryAfter, err := c.once(ctx, op, method, path, body, out)
		if err == nil {
			return nil
		}
		last = err
		if !err.Temporary() || attempt >= c.o.Attempts || ctx.Err() != nil {
			break
		}
		d := backoff.Delay(attempt-1, retryAfter)
		c.o.Logger.Info("forge request failed, retrying", "forge", c.forge, "repo", c.repo, "op", op, "status", err.StatusCode, "attempt", attempt, "delay", d)
		if err := c.o.Sleep(ctx, d); err != nil {
			break
		}
	}
	if last.Temporary() && tries > 1 {
		last.Hint = strings.TrimPrefix(last.Hint+fmt.Sprintf("; gave up after %d attempts", tries), "; ")
	}
	return last
}

func (c *client) once(ctx context.Context, op, method, path string, body []byte, out any) (time.Duration, *Error) {
	fail := func(err error) *Error {
		return &Error{Forge: c.forge, Repo: c.repo, Op: op, Err: errors.New(c.redact(err.Error()))}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, fail(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "promoter")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.auth(req.Header, c.token)
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return 0, fail(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fail(fmt.Errorf("read response: %w", err))
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Forge: c.forge, Repo: c.repo, Op: op, StatusCode: resp.StatusCode, Status: resp.Status,
			Message: c.redact(errorMessage(data)), Hint: c.hint(resp.StatusCode)}
		return retry.After(resp.Header.Get("Retry-After"), time.Now()), e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fail(fmt.Errorf("decode %s response: %w", resp.Status, err))
		}
	}
	return 0, nil
}

func (c *client) hint(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return fmt.Sprintf("the token in $%s is missing, expired or wrong", c.o.TokenEnv)
	case http.StatusForbidden:
		if c.forge == "github" {
			return fmt.Sprintf("the token in $%s lacks permission: it needs pull requests: write (or rate limit exceeded)", c.o.TokenEnv)
		}
		return fmt.Sprintf("the token in $%s lacks permission: it needs the api scope and Developer role", c.o.TokenEnv)
	case http.StatusNotFound:
		return fmt.Sprintf("check pullRequest.repo %q and pullRequest.baseURL %q, and that the token can see the repository", c.repo, c.base)
	}
	return ""
}

// errorMessage extracts the forge's message from an error body: GitHub's
// {"message", "errors": [...]} and GitLab's {"message": string|[]|{}} or
// {"error"}.
func errorMessage(data []byte) string {
	var v struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
		Errors  []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
			Code    string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(data, &v) != nil {
		s := strings.TrimSpace(string(data))
		if len(s) > 200 {
			s = truncateRunes(s, 200) + "..."
		}
		return s
	}
	var parts []string
	if len(v.Message) > 0 {
		var s string
		if json.Unmarshal(v.Message, &s) == nil {
			parts = append(parts, s)
		} else {
			parts = append(parts, string(v.Message))
		}
	}
	if v.Error != "" {
		parts = append(parts, v.Error)
	}
	for _, e := range v.Errors {
		switch {
		case e.Message != "":
			parts = append(parts, e.Message)
		case e.Field != "":
			parts = append(parts, e.Field+" "+e.Code)
		}
	}
	return strings.Join(parts, "; ")
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// fitBody cuts a pull request body to the forge's limit, saying so.
func fitBody(body string, limit int) string {
	const note = "\n\n---\n*The plan was cut to fit the pull request; run `promoter plan --rev <branch> --format markdown` for all of it.*\n"
	if utf8.RuneCountInString(body) <= limit {
		return body
	}
	return truncateRunes(body, limit-utf8.RuneCountInString(note)) + note
}
