package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"promoter/config"
	"promoter/forge/forgetest"
)

const testToken = "ghp_SECRETtoken1234567890"

// sleeps records the delays a client waited instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func startFake(t *testing.T, branchExists func(string) bool) *forgetest.Server {
	t.Helper()
	f := forgetest.Start(forgetest.Options{Token: testToken, GitHubRepo: "acme/isc-config", GitLabProject: "acme/infra/isc-config", GitLabID: 42, BranchExists: branchExists})
	t.Cleanup(f.Close)
	return f
}

type forgeCase struct {
	name     string
	provider string
	repo     string
	base     func(f *forgetest.Server) string
	urlPart  string
}

var forgeCases = []forgeCase{
	{"github", "github", "acme/isc-config", func(f *forgetest.Server) string { return f.URL }, "/acme/isc-config/pull/"},
	{"gitlab by path", "gitlab", "acme/infra/isc-config", func(f *forgetest.Server) string { return f.URL + "/api/v4/" }, "/-/merge_requests/"},
	{"gitlab by id", "gitlab", "42", func(f *forgetest.Server) string { return f.URL + "/api/v4" }, "/-/merge_requests/"},
}

func newPR(t *testing.T, c forgeCase, f *forgetest.Server, token string, sl *sleeps) Client {
	t.Helper()
	pr, err := New(config.PullRequest{Provider: c.provider, Repo: c.repo, BaseURL: c.base(f), TokenEnv: "FORGE_TOKEN"}, token, Options{Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestOpenThenUpdateSamePullRequest(t *testing.T) {
	for _, c := range forgeCases {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, nil)
			pr := newPR(t, c, f, testToken, &sleeps{})
			ctx := context.Background()
			req := Request{Pipeline: "dev-to-prod", Branch: "promoter/dev-to-prod", Base: "main",
				Title: "promoter: dev-to-prod", Body: "## Plan\n\n1 to import"}
			url1, err := pr.OpenOrUpdate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(url1, c.urlPart+"1") {
				t.Errorf("url %q does not point at pull request 1", url1)
			}
			req.Body, req.Title = "## Plan\n\n2 to import", "promoter: dev-to-prod (2)"
			url2, err := pr.OpenOrUpdate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if url2 != url1 {
				t.Errorf("second run returned %q, want the same pull request %q", url2, url1)
			}
			got := f.PullRequests()
			want := []forgetest.PullRequest{{Forge: got[0].Forge, Number: 1, Head: "promoter/dev-to-prod", Base: "main",
				Title: "promoter: dev-to-prod (2)", Body: "## Plan\n\n2 to import", State: got[0].State, Updates: 1, URL: url1}}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("pull requests after two runs (-want +got):\n%s", d)
			}
			for _, r := range f.Requests() {
				if r.Auth != testToken && r.Auth != "Bearer "+testToken {
					t.Errorf("%s %s sent credential %q", r.Method, r.Path, r.Auth)
				}
			}
			// Once it is closed or merged, the next run opens a new one.
			f.ClosePullRequest(1)
			url3, err := pr.OpenOrUpdate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(url3, c.urlPart+"2") {
				t.Errorf("after closing #1 the run returned %q, want a new pull request 2", url3)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	missing := func(string) bool { return false }
	tests := []struct {
		name     string
		c        forgeCase
		token    string
		exists   func(string) bool
		fail     func(f *forgetest.Server)
		want     []string // substrings of the error
		requests int
		slept    []time.Duration // each delay's step: it waited between half and all of it
	}{
		{name: "github bad token", c: forgeCases[0], token: "ghp_WRONGtoken999",
			want: []string{"github acme/isc-config: find pull request of promoter/x: HTTP 401 Unauthorized: Bad credentials", "$FORGE_TOKEN"}, requests: 1},
		{name: "gitlab bad token", c: forgeCases[1], token: "glpat-WRONGtoken999",
			want: []string{"gitlab acme/infra/isc-config: find merge request of promoter/x: HTTP 401 Unauthorized: 401 Unauthorized", "$FORGE_TOKEN"}, requests: 1},
		{name: "github unknown repo", c: forgeCase{"", "github", "acme/nope", forgeCases[0].base, ""}, token: testToken,
			want: []string{"github acme/nope: find pull request of promoter/x: HTTP 404 Not Found: Not Found", `pullRequest.repo "acme/nope"`}, requests: 1},
		{name: "gitlab unknown project", c: forgeCase{"", "gitlab", "7", forgeCases[1].base, ""}, token: testToken,
			want: []string{"gitlab 7: find merge request of promoter/x: HTTP 404 Not Found: 404 Project Not Found"}, requests: 1},
		{name: "github branch not pushed", c: forgeCases[0], token: testToken, exists: missing,
			want: []string{"github acme/isc-config: create pull request promoter/x: HTTP 422 Unprocessable Entity: Validation Failed; head invalid", "check that branch promoter/x was pushed"}, requests: 2},
		{name: "gitlab branch not pushed", c: forgeCases[1], token: testToken, exists: missing,
			want: []string{"gitlab acme/infra/isc-config: create merge request promoter/x: HTTP 422 Unprocessable Entity: [\"Source branch does not exist\"]"}, requests: 2},
		{name: "server errors are retried, bounded", c: forgeCases[0], token: testToken,
			fail:     func(f *forgetest.Server) { f.FailNext(10, 502, "") },
			want:     []string{"github acme/isc-config: find pull request of promoter/x: HTTP 502 Bad Gateway: injected failure 502; gave up after 3 attempts"},
			requests: 3, slept: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "client errors are not retried", c: forgeCases[1], token: testToken,
			fail: func(f *forgetest.Server) { f.FailNext(1, 403, "") },
			want: []string{"HTTP 403 Forbidden", "needs the api scope"}, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tt.exists)
			if tt.fail != nil {
				tt.fail(f)
			}
			sl := &sleeps{}
			pr := newPR(t, tt.c, f, tt.token, sl)
			_, err := pr.OpenOrUpdate(context.Background(), Request{Branch: "promoter/x", Base: "main", Title: "t", Body: "b"})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Errorf("error contains the token: %q", err)
			}
			if n := len(f.Requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if len(sl.d) != len(tt.slept) {
				t.Fatalf("backoff delays %v, want %d within steps %v", sl.d, len(tt.slept), tt.slept)
			}
			for i, step := range tt.slept {
				if d := sl.d[i]; d < step/2 || d > step {
					t.Errorf("backoff delay %d = %v, want jittered within [%v, %v]", i, d, step/2, step)
				}
			}
		})
	}
}

func TestRetryAfterThenSuccess(t *testing.T) {
	f := startFake(t, nil)
	f.FailNext(2, http.StatusTooManyRequests, "7")
	sl := &sleeps{}
	pr := newPR(t, forgeCases[0], f, testToken, sl)
	u, err := pr.OpenOrUpdate(context.Background(), Request{Branch: "promoter/x", Base: "main", Title: "t", Body: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if u == "" || len(f.PullRequests()) != 1 {
		t.Errorf("url %q, pull requests %v", u, f.PullRequests())
	}
	if d := cmp.Diff([]time.Duration{7 * time.Second, 7 * time.Second}, sl.d); d != "" {
		t.Errorf("delays honour Retry-After (-want +got):\n%s", d)
	}
}

// TestRetryAfterHTTPDate: a Retry-After given as an HTTP date is honoured
// as the time until then.
func TestRetryAfterHTTPDate(t *testing.T) {
	f := startFake(t, nil)
	f.FailNext(1, http.StatusServiceUnavailable, time.Now().Add(20*time.Second).UTC().Format(http.TimeFormat))
	sl := &sleeps{}
	pr := newPR(t, forgeCases[0], f, testToken, sl)
	if _, err := pr.OpenOrUpdate(context.Background(), Request{Branch: "promoter/x", Base: "main", Title: "t", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if len(sl.d) != 1 || sl.d[0] < 15*time.Second || sl.d[0] > 20*time.Second {
		t.Errorf("delays %v, want one of about 20s (the HTTP date's distance)", sl.d)
	}
}

// TestTokenNeverInErrors covers the token echoed by a hostile or buggy
// server and transport errors.
func TestTokenNeverInErrors(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"message": "bad header %s %s"}`, r.Header.Get("Authorization"), r.Header.Get("PRIVATE-TOKEN"))
	}))
	defer echo.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, provider := range []string{"github", "gitlab"} {
		for _, base := range []string{echo.URL, closed.URL} {
			pr, err := New(config.PullRequest{Provider: provider, Repo: "acme/isc-config", BaseURL: base, TokenEnv: "T"}, testToken, Options{Sleep: (&sleeps{}).sleep})
			if err != nil {
				t.Fatal(err)
			}
			_, err = pr.OpenOrUpdate(context.Background(), Request{Branch: "promoter/x", Base: "main", Title: "t", Body: "b"})
			if err == nil {
				t.Fatalf("%s %s: no error", provider, base)
			}
			if strings.Contains(err.Error(), testToken) || !strings.HasPrefix(err.Error(), provider+" acme/isc-config: ") {
				t.Errorf("%s %s: error %q contains the token or does not name the forge and repository", provider, base, err)
			}
		}
	}
}

func TestLongBodyIsCut(t *testing.T) {
	f := startFake(t, nil)
	pr := newPR(t, forgeCases[0], f, testToken, &sleeps{})
	body := strings.Repeat("é", 70000)
	if _, err := pr.OpenOrUpdate(context.Background(), Request{Branch: "promoter/x", Base: "main", Title: "t", Body: body}); err != nil {
		t.Fatal(err)
	}
	got := f.PullRequests()[0].Body
	if n := utf8.RuneCountInString(got); n > githubBodyLimit || !strings.Contains(got, "promoter plan --rev") {
		t.Errorf("body of %d runes (limit %d) without the cut note", n, githubBodyLimit)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		cfg     config.PullRequest
		token   string
		wantNil bool
		wantErr string
	}{
		{cfg: config.PullRequest{}, wantNil: true},
		{cfg: config.PullRequest{Provider: "none"}, wantNil: true},
		{cfg: config.PullRequest{Provider: "gitea"}, wantErr: `unknown forge`},
		{cfg: config.PullRequest{Provider: "github", Repo: "isc-config"}, token: "x", wantErr: `"isc-config" is not owner/name`},
		{cfg: config.PullRequest{Provider: "github", Repo: "a/b"}, wantErr: "no API token"},
		{cfg: config.PullRequest{Provider: "gitlab", Repo: "a/b", BaseURL: "ftp://x"}, token: "x", wantErr: "not an http(s) URL"},
		{cfg: config.PullRequest{Provider: "gitlab", Repo: "a/b"}, token: "x"},
	}
	for _, tt := range tests {
		pr, err := New(tt.cfg, tt.token, Options{})
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%+v): err %v, want %q", tt.cfg, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("New(%+v): %v", tt.cfg, err)
		case (pr == nil) != tt.wantNil:
			t.Errorf("New(%+v) = %v, want nil %v", tt.cfg, pr, tt.wantNil)
		}
	}
	// the default API roots
	gh, _ := NewGitHub("", "a/b", "x", Options{})
	gl, _ := NewGitLab("", "a/b", "x", Options{})
	if gh.c.base != GitHubAPI || gl.c.base != GitLabAPI {
		t.Errorf("default roots %q %q", gh.c.base, gl.c.base)
	}
}

// TestLastStateSaysOpenMergedOrClosed: both forges tell what became of the
// newest pull request of a branch, which pull-request mode reads to decline
// the changes of one closed without merging.
func TestLastStateSaysOpenMergedOrClosed(t *testing.T) {
	for _, c := range forgeCases {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, nil)
			pr := newPR(t, c, f, testToken, &sleeps{})
			ctx := context.Background()
			const branch = "promoter/dev-to-prod"
			check := func(want string) {
				t.Helper()
				if got, err := pr.LastState(ctx, branch); err != nil || got != want {
					t.Errorf("LastState = %q, %v; want %q", got, err, want)
				}
			}
			check("")
			req := Request{Pipeline: "dev-to-prod", Branch: branch, Base: "main", Title: "t", Body: "b"}
			if _, err := pr.OpenOrUpdate(ctx, req); err != nil {
				t.Fatal(err)
			}
			check(StateOpen)
			f.MergePullRequest(1)
			check(StateMerged)
			if _, err := pr.OpenOrUpdate(ctx, req); err != nil {
				t.Fatal(err)
			}
			f.DeclinePullRequest(2)
			check(StateClosed) // the newest one counts
		})
	}
}
