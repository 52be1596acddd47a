package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"promoter/forge/forgetest"
)

// webhookSink records the JSON notifications it receives.
type webhookSink struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []map[string]any
}

func newWebhookSink(t *testing.T) *webhookSink {
	s := &webhookSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &m); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *webhookSink) events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		out = append(out, fmt.Sprint(m["event"]))
	}
	return out
}

// TestHoldBlocksRunUntilRelease: `promoter hold` makes the next run exit 3
// without a real import (while export, snapshot and propose still run), and
// `promoter release` lets the next run import. The webhook receiver hears
// about both.
func TestHoldBlocksRunUntilRelease(t *testing.T) {
	t.Parallel()
	sink := newWebhookSink(t)
	w := newE2E(t, fmt.Sprintf("notifications:\n  - type: webhook\n    url: %s/hook\n", sink.URL))
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)

	for _, bad := range [][]string{
		{"hold", "no-such-pipeline", "--reason", "x", "--config", w.cfg},
		{"hold", "dev-to-prod", "--config", w.cfg},
		{"hold", "dev-to-prod", "extra", "--reason", "x", "--config", w.cfg},
		{"release", "--config", w.cfg},
	} {
		w.mustPromoter(exitUsage, bad...)
	}
	if out := w.mustPromoter(exitOK, "hold", "--config", w.cfg); !strings.Contains(out, "no pipeline is held") {
		t.Errorf("hold list on a fresh repository:\n%s", out)
	}

	out := w.mustPromoter(exitOK, "hold", "dev-to-prod", "--reason", "prod change freeze", "--by", "ann", "--config", w.cfg)
	if !strings.Contains(out, "dev-to-prod held by ann since ") {
		t.Errorf("hold output:\n%s", out)
	}
	if out := w.mustPromoter(exitOK, "hold", "--config", w.cfg); !strings.Contains(out, "dev-to-prod\theld by ann since ") || !strings.Contains(out, "prod change freeze") {
		t.Errorf("hold list:\n%s", out)
	}

	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitBlocked {
		t.Fatalf("run while held: exit %d, want %d\n%s\n%s", code, exitBlocked, out, errOut)
	}
	if !strings.Contains(out+errOut, "pipeline dev-to-prod is held by ann since ") || !strings.Contains(out+errOut, "run promoter release dev-to-prod") {
		t.Errorf("blocked run does not name the hold:\n%s\n%s", out, errOut)
	}
	if n := w.realImports(); n != 0 {
		t.Fatalf("a held pipeline imported %d times", n)
	}
	if w.git("log", "--format=%H", "--grep=^Promote", "--", "tenants/prod") == "" {
		t.Error("no promotion commit while held: propose must still run")
	}

	out = w.mustPromoter(exitOK, "release", "--config", w.cfg, "--by", "bob", "dev-to-prod")
	if !strings.Contains(out, "dev-to-prod released (it was held by ann") {
		t.Errorf("release output:\n%s", out)
	}
	if out := w.mustPromoter(exitOK, "release", "dev-to-prod", "--config", w.cfg); !strings.Contains(out, "not held") {
		t.Errorf("second release:\n%s", out)
	}
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if n := w.realImports(); n != 1 {
		t.Fatalf("real imports after release = %d, want 1", n)
	}
	w.prodMatchesDev()

	// The hold's history is plain git.
	if log := w.git("log", "--format=%s", "refs/promoter/hold/dev-to-prod"); log != "Release dev-to-prod\nHold dev-to-prod: prod change freeze" {
		t.Errorf("hold history:\n%s", log)
	}
	if got := strings.Join(sink.events(), ","); got != "blocked,promoted" {
		t.Errorf("webhook events %q, want blocked,promoted", got)
	}
	w.git("fsck", "--strict")
}

// TestPullRequestModeOpensThenUpdatesPullRequest: a pull-request mode run
// pushes promoter/dev-to-prod to the remote and opens a pull request on the
// fake GitHub whose body is the Markdown plan; after a source change the
// next run updates the same pull request. Nothing is imported.
func TestPullRequestModeOpensThenUpdatesPullRequest(t *testing.T) {
	t.Parallel()
	const token = "ghp_e2eTOKENvalue0123456789"
	w := newE2E(t, "")
	bare := filepath.Join(w.dir, "remote.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", bare).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	branchExists := func(b string) bool {
		return exec.Command("git", "--git-dir", bare, "rev-parse", "--verify", "-q", "refs/heads/"+b).Run() == nil
	}
	gh := forgetest.Start(forgetest.Options{Token: token, GitHubRepo: "acme/isc-config", BranchExists: branchExists})
	defer gh.Close()

	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "  path: ./repo\n", "  path: ./repo\n  remote: "+bare+"\n", 1)
	text += fmt.Sprintf("    mode: pull-request\n    pullRequest:\n      provider: github\n      repo: acme/isc-config\n      baseURL: %s\n      tokenEnv: E2E_GH_TOKEN\n", gh.URL)
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "E2E_GH_TOKEN="+token)
	w.mustPromoter(exitOK, "validate", "--config", w.cfg)
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)

	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitOK {
		t.Fatalf("first pull-request run: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, token) {
		t.Error("the token appears in the output")
	}
	prs := gh.PullRequests()
	if len(prs) != 1 {
		t.Fatalf("pull requests after the first run: %+v", prs)
	}
	pr := prs[0]
	if pr.Head != "promoter/dev-to-prod" || pr.Base != "main" || pr.State != "open" {
		t.Errorf("pull request %+v, want promoter/dev-to-prod into main, open", pr)
	}
	if !strings.Contains(pr.Body, "## promoter plan: `dev-to-prod` (dev → prod)") || !strings.Contains(pr.Body, "Get Worker Type") {
		t.Errorf("pull request body is not the Markdown plan:\n%s", pr.Body)
	}
	if !strings.Contains(out, pr.URL) {
		t.Errorf("run output does not show the pull request URL %s:\n%s", pr.URL, out)
	}
	tip := strings.TrimSpace(gitOut(t, bare, "rev-parse", "refs/heads/promoter/dev-to-prod"))
	if n := w.realImports(); n != 0 {
		t.Fatalf("pull-request mode imported %d times", n)
	}

	// A source change: the next run commits on the branch, pushes it and
	// updates the same pull request.
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	prs = gh.PullRequests()
	if len(prs) != 1 || prs[0].Number != pr.Number || prs[0].Updates != 1 {
		t.Fatalf("after the second run: %+v, want pull request #%d updated once", prs, pr.Number)
	}
	if prs[0].Body == pr.Body || !strings.Contains(prs[0].Body, "Contractor") {
		t.Errorf("the updated body does not show the new change:\n%s", prs[0].Body)
	}
	tip2 := strings.TrimSpace(gitOut(t, bare, "rev-parse", "refs/heads/promoter/dev-to-prod"))
	if tip2 == tip {
		t.Error("the second run did not push a new commit to promoter/dev-to-prod")
	}
	// The branch is rebuilt on main's tip every run and holds the whole
	// pending proposal: the first promotion and the new change.
	if parent, main := strings.TrimSpace(gitOut(t, bare, "rev-parse", tip2+"^")), strings.TrimSpace(gitOut(t, bare, "rev-parse", "main")); parent != main {
		t.Errorf("the branch is not built on main: parent of %s is %s, main is %s", tip2, parent, main)
	}
	if files := gitOut(t, bare, "diff", "--name-only", "main", tip2); !strings.Contains(files, "SOURCE/ServiceNow.json") || !strings.Contains(files, "TRANSFORM/Get Worker Type.json") {
		t.Errorf("the rebuilt branch does not hold the whole pending proposal:\n%s", files)
	}
	if n := w.realImports(); n != 0 {
		t.Fatalf("pull-request mode imported %d times", n)
	}
	for _, r := range gh.Requests() {
		if r.Auth != "Bearer "+token {
			t.Errorf("%s %s was sent without the token", r.Method, r.Path)
		}
	}
}

func gitOut(t *testing.T, gitDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", gitDir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}
