package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"promoter/forge/forgetest"
)

// prWorld is an e2e world in pull-request mode with a bare remote and a
// reviewer's clone driven by the git CLI (provider: none).
type prWorld struct {
	*e2e
	bare, reviewer string
}

func newPRWorld(t *testing.T) *prWorld {
	t.Helper()
	w := &prWorld{e2e: newE2E(t, "")}
	w.bare = filepath.Join(w.dir, "remote.git")
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", w.bare).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "  path: ./repo\n", "  path: ./repo\n  remote: "+w.bare+"\n", 1)
	text += "    mode: pull-request\n    pullRequest:\n      provider: none\n"
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w.adminPost(w.prod, "/_fake/identities", `{"name": "Imogene Mendez"}`)
	w.reviewer = filepath.Join(w.dir, "reviewer")
	return w
}

// review runs the git CLI in the reviewer's clone (cloned on first use).
func (w *prWorld) review(args ...string) string {
	w.t.Helper()
	if _, err := os.Stat(w.reviewer); err != nil {
		if out, err := exec.Command("git", "clone", "-q", w.bare, w.reviewer).CombinedOutput(); err != nil {
			w.t.Fatalf("git clone: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = w.reviewer
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Rita Reviewer", "GIT_AUTHOR_EMAIL=rita@example.com", "GIT_COMMITTER_NAME=Rita Reviewer", "GIT_COMMITTER_EMAIL=rita@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.t.Fatalf("reviewer: git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// branchFiles lists the files the promotion branch changes against main on
// the remote.
func (w *prWorld) branchFiles() string {
	w.t.Helper()
	return strings.TrimSpace(gitOut(w.t, w.bare, "diff", "--name-only", "main", "promoter/dev-to-prod"))
}

// reviewEdit changes the first old to new in a file of the reviewer's
// clone and commits it there (the caller pushes it where it belongs).
func (w *prWorld) reviewEdit(rel, old, new, message string) {
	w.t.Helper()
	w.review("status", "-s") // clones on first use
	path := filepath.Join(w.reviewer, filepath.FromSlash(rel))
	data, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		w.t.Fatalf("%s has no %q to replace", rel, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.review("commit", "-q", "-am", message)
}

// mergeFirstProposal merges the first proposal with a merge commit, deletes
// its branch and applies main, as a reviewer and the CI recipe would.
func (w *prWorld) mergeFirstProposal() {
	w.t.Helper()
	w.review("merge", "-q", "--no-ff", "-m", "Merge #1", "origin/promoter/dev-to-prod")
	w.review("push", "-q", "origin", "main", ":promoter/dev-to-prod")
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
}

// remoteRefs lists the remote's refs.
func (w *prWorld) remoteRefs() []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(gitOut(w.t, w.bare, "for-each-ref", "--format=%(refname)")), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestPullRequestCycleSquashRejectMerge: propose -> squash merge -> apply ->
// propose -> reject -> propose -> merge commit -> apply imports exactly what
// was merged, once; every proposal sits on main's tip with only the pending
// change; the remote ends with no unknown refs (issue 13).
func TestPullRequestCycleSquashRejectMerge(t *testing.T) {
	t.Parallel()
	w := newPRWorld(t)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if w.realImports() != 0 {
		t.Fatal("pull-request mode imported")
	}
	if got := w.review("log", "-1", "--format=%s", "origin/main"); got != "Baseline of tenant prod (acme)" {
		t.Errorf("main's tip on the remote is %q, want the baseline", got)
	}
	// Squash merge, branch deleted (GitHub's "Squash and merge").
	w.review("merge", "-q", "--squash", "origin/promoter/dev-to-prod")
	w.review("commit", "-q", "-m", "Promote dev to prod (#1)")
	w.review("push", "-q", "origin", "main", ":promoter/dev-to-prod")
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if w.realImports() != 1 {
		t.Fatalf("real imports after the squash merge = %d, want 1", w.realImports())
	}
	w.prodMatchesDev()

	// A dev change: the next proposal holds only it, on main's tip.
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.branchFiles(); got != "tenants/prod/TRANSFORM/Get Worker Type.json" {
		t.Errorf("the proposal after a squash merge changes:\n%s\nwant only Get Worker Type", got)
	}
	if parent, main := strings.TrimSpace(gitOut(t, w.bare, "rev-parse", "promoter/dev-to-prod^")), strings.TrimSpace(gitOut(t, w.bare, "rev-parse", "main")); parent != main {
		t.Errorf("the promotion branch is not built on main's tip: parent %s, main %s", parent, main)
	}

	// Rejected: the reviewer deletes the branch without merging. The next
	// dev change is proposed alone; the rejected one is declined.
	w.review("fetch", "-q", "origin")
	w.review("push", "-q", "origin", ":promoter/dev-to-prod")
	w.editObject(w.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	out := w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.branchFiles(); got != "tenants/prod/TRANSFORM/Lowercase Email.json" {
		t.Errorf("the proposal after a rejection changes:\n%s\nwant only Lowercase Email", got)
	}
	if !strings.Contains(out, "Declined") || !strings.Contains(out, "Get Worker Type") {
		t.Errorf("the run does not say the rejected change was declined:\n%s", out)
	}

	// Merge commit; apply imports exactly that change.
	w.review("fetch", "-q", "origin")
	w.review("merge", "-q", "--no-ff", "-m", "Merge pull request #3", "origin/promoter/dev-to-prod")
	w.review("push", "-q", "origin", "main")
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if w.realImports() != 2 {
		t.Fatalf("real imports after the merge = %d, want 2", w.realImports())
	}
	var recs []struct{ Objects []string }
	if err := json.Unmarshal([]byte(w.git("notes", "--ref=promoter", "show", "refs/promoter/applied/prod")), &recs); err != nil || len(recs) == 0 {
		t.Fatalf("import record: %v", err)
	}
	if got := strings.Join(recs[len(recs)-1].Objects, ","); got != "TRANSFORM Lowercase Email" {
		t.Errorf("the merge imported %s, want only TRANSFORM Lowercase Email", got)
	}
	if strings.Contains(string(liveObject(t, w.prod, "TRANSFORM", "Get Worker Type").Object()), "Contractor") {
		t.Error("the declined change reached prod")
	}
	// Nothing new: the next run proposes nothing and imports nothing.
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if w.realImports() != 2 {
		t.Error("a run with nothing new imported")
	}
	for _, ref := range w.remoteRefs() {
		kind, _, _ := strings.Cut(strings.TrimPrefix(ref, "refs/promoter/"), "/")
		switch {
		case strings.HasPrefix(ref, "refs/heads/"), strings.HasPrefix(ref, "refs/notes/"):
		case strings.HasPrefix(ref, "refs/promoter/") && (kind == "offered" || kind == "applied" || kind == "observed" || kind == "hold"):
		default:
			t.Errorf("the remote holds an unknown ref %s", ref)
		}
	}
}

// TestPullRequestBranchWithAReviewersCommitIsNeverOverwritten: a commit on
// the promotion branch that promoter did not write stops the next proposal
// (exit 3, naming it) and stays on the remote (issue 13 failure 4).
func TestPullRequestBranchWithAReviewersCommitIsNeverOverwritten(t *testing.T) {
	t.Parallel()
	w := newPRWorld(t)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.review("checkout", "-q", "-b", "fixup", "origin/promoter/dev-to-prod")
	w.reviewEdit("tenants/prod/TRANSFORM/Get Worker Type.json", "Contingent", "Temporary", "reviewer: Temporary, not Contingent")
	fixup := w.review("rev-parse", "HEAD")
	w.review("push", "-q", "origin", "HEAD:promoter/dev-to-prod")

	w.editObject(w.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitBlocked || !strings.Contains(out+errOut, fixup[:12]) || !strings.Contains(out+errOut, "promoter did not write") {
		t.Errorf("run over a reviewer's commit: exit %d, want 3 naming %s\n%s\n%s", code, fixup[:12], out, errOut)
	}
	if got := strings.TrimSpace(gitOut(t, w.bare, "rev-parse", "promoter/dev-to-prod")); got != fixup {
		t.Errorf("the reviewer's commit was overwritten: branch at %s, want %s", got, fixup)
	}
}

// TestStaleBookkeepingRefIsRemovedAndAmbiguousRevisionsRefused: a ref
// refs/promoter/<pipeline> (made by an earlier version from the branch
// promoter/<pipeline>) is removed locally and on the remote with one log
// line, so --rev promoter/dev-to-prod means the branch; a revision that
// names two refs is refused with exit 2 (issue 13 failure 1).
func TestStaleBookkeepingRefIsRemovedAndAmbiguousRevisionsRefused(t *testing.T) {
	t.Parallel()
	w := newPRWorld(t)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	stale := strings.TrimSpace(gitOut(t, w.bare, "rev-parse", "main"))
	gitOut(t, w.bare, "update-ref", "refs/promoter/dev-to-prod", stale)
	w.git("update-ref", "refs/promoter/dev-to-prod", stale)

	_, errOut, code := w.promoter("plan", "--config", w.cfg, "--rev", "refs/heads/promoter/dev-to-prod")
	if code != exitOK && code != exitBlocked {
		t.Fatalf("plan: exit %d\n%s", code, errOut)
	}
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	for _, dir := range []string{w.bare, filepath.Join(w.repo, ".git")} {
		if out, err := exec.Command("git", "--git-dir", dir, "rev-parse", "--verify", "-q", "refs/promoter/dev-to-prod").CombinedOutput(); err == nil {
			t.Errorf("%s still holds refs/promoter/dev-to-prod: %s", dir, out)
		}
	}
	if refs := w.git("for-each-ref", "--format=%(refname)", "refs/remotes/origin/promoter/offered", "refs/remotes/origin/notes"); refs != "" {
		t.Errorf("bookkeeping is still fetched through refs/remotes/origin/:\n%s", refs)
	}
	w.review("push", "-q", "origin", "--delete", "promoter/dev-to-prod") // not ambiguous any more

	w.git("tag", "promoter/dev-to-prod", "HEAD")
	w.git("branch", "-f", "promoter/dev-to-prod", "HEAD")
	_, errOut, code = w.promoter("plan", "--config", w.cfg, "--rev", "promoter/dev-to-prod")
	if code != exitUsage || !strings.Contains(errOut, "ambiguous") || !strings.Contains(errOut, "refs/tags/promoter/dev-to-prod") {
		t.Errorf("an ambiguous --rev: exit %d, want 2 naming the candidates\n%s", code, errOut)
	}
}

// TestAdoptInPullRequestModeOffersTheDriftBack: in pull-request mode adopt
// pushes the live version of drifted objects as a branch; once merged (with
// a merge commit or squashed), the object is no drift, and a later source
// change of it is proposed, not blocked.
func TestAdoptInPullRequestModeOffersTheDriftBack(t *testing.T) {
	t.Parallel()
	merges := map[string]func(w *prWorld){
		"merge commit": func(w *prWorld) {
			w.review("merge", "-q", "--no-ff", "-m", "Merge adoption", "origin/promoter/dev-to-prod-adopt")
		},
		"squash": func(w *prWorld) {
			w.review("merge", "-q", "--squash", "origin/promoter/dev-to-prod-adopt")
			w.review("commit", "-q", "-m", "Adopt the hotfix (#2)")
		},
	}
	for name, merge := range merges {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newPRWorld(t)
			w.mustPromoter(exitOK, "run", "--config", w.cfg)
			w.review("merge", "-q", "--no-ff", "-m", "Merge #1", "origin/promoter/dev-to-prod")
			w.review("push", "-q", "origin", "main")
			w.mustPromoter(exitOK, "apply", "--config", w.cfg)
			w.editObject(w.prod, "TRANSFORM", "Get Worker Type", "Contingent", "Hotfix")
			if classes := w.planJSON(exitBlocked, "--rev", "HEAD"); classes["TRANSFORM Get Worker Type"] != "drift" {
				t.Fatalf("the hotfix is %q, want drift", classes["TRANSFORM Get Worker Type"])
			}
			out := w.mustPromoter(exitOK, "adopt", "--config", w.cfg, "--pipeline", "dev-to-prod")
			if !strings.Contains(out, "promoter/dev-to-prod-adopt") {
				t.Errorf("adopt in pull-request mode does not name its branch:\n%s", out)
			}
			if files := strings.TrimSpace(gitOut(t, w.bare, "diff", "--name-only", "main", "promoter/dev-to-prod-adopt")); files != "tenants/prod/TRANSFORM/Get Worker Type.json" {
				t.Errorf("the adoption branch changes:\n%s", files)
			}
			w.review("fetch", "-q", "origin")
			merge(w)
			w.review("push", "-q", "origin", "main", ":promoter/dev-to-prod-adopt")
			w.mustPromoter(exitOK, "apply", "--config", w.cfg)
			if classes := w.planJSON(exitOK, "--rev", "HEAD"); classes["TRANSFORM Get Worker Type"] != "no-op" {
				t.Errorf("after the adoption is merged the object is %q, want no-op", classes["TRANSFORM Get Worker Type"])
			}
			w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
			out, errOut, code := w.promoter("run", "--config", w.cfg)
			if code != exitOK {
				t.Fatalf("a source change after the merged adoption: exit %d\n%s\n%s", code, out, lastLines(errOut, 8))
			}
			if got := w.branchFiles(); got != "tenants/prod/TRANSFORM/Get Worker Type.json" {
				t.Errorf("the proposal after the adoption changes:\n%s", got)
			}
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestPullRequestClosedOnGitHubDeclinesItsChanges: a pull request closed
// without merging on GitHub (its branch still there) declines its changes:
// the next run opens a new pull request with only the newer change.
func TestPullRequestClosedOnGitHubDeclinesItsChanges(t *testing.T) {
	t.Parallel()
	const token = "ghp_e2eDECLINEtoken0123456789"
	w := newPRWorld(t)
	gh := forgetest.Start(forgetest.Options{Token: token, GitHubRepo: "acme/isc-config",
		BranchExists: func(b string) bool {
			return exec.Command("git", "--git-dir", w.bare, "rev-parse", "--verify", "-q", "refs/heads/"+b).Run() == nil
		}})
	defer gh.Close()
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "      provider: none\n", "      provider: github\n      repo: acme/isc-config\n      baseURL: "+gh.URL+"\n      tokenEnv: E2E_GH_TOKEN\n", 1)
	if err := os.WriteFile(w.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "E2E_GH_TOKEN="+token)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.review("merge", "-q", "--no-ff", "-m", "Merge #1", "origin/promoter/dev-to-prod")
	w.review("push", "-q", "origin", "main")
	gh.MergePullRequest(gh.PullRequests()[0].Number)
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)

	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	prs := gh.PullRequests()
	if len(prs) != 2 || prs[1].State != "open" {
		t.Fatalf("pull requests after the dev change: %+v", prs)
	}
	gh.DeclinePullRequest(prs[1].Number)
	w.editObject(w.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	out := w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.branchFiles(); got != "tenants/prod/TRANSFORM/Lowercase Email.json" {
		t.Errorf("after the decline the branch changes:\n%s\nwant only Lowercase Email", got)
	}
	if !strings.Contains(out, "Declined") {
		t.Errorf("the run does not report the declined change:\n%s", out)
	}
	prs = gh.PullRequests()
	if len(prs) != 3 || prs[2].State != "open" || strings.Contains(prs[2].Body, "Full-Time#{else}Contractor") || !strings.Contains(prs[2].Body, "Lowercase Email") {
		for _, p := range prs {
			t.Logf("pull request #%d %s", p.Number, p.State)
		}
		t.Errorf("want a third, open pull request without the declined change")
	}
}

// TestPullRequestRebaseMergeIsRecognised: a rebase merge (the branch's
// commit replayed on main, as GitHub's "Rebase and merge") counts as
// merged: apply imports it and the next proposal holds only newer changes.
func TestPullRequestRebaseMergeIsRecognised(t *testing.T) {
	t.Parallel()
	w := newPRWorld(t)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	// Something else lands on main first, so the replay makes a new commit.
	w.review("commit", "-q", "--allow-empty", "-m", "docs: unrelated change")
	w.review("push", "-q", "origin", "main")
	w.review("fetch", "-q", "origin")
	w.review("checkout", "-q", "-b", "replay", "origin/promoter/dev-to-prod")
	w.review("rebase", "-q", "origin/main")
	w.review("push", "-q", "origin", "replay:main", ":promoter/dev-to-prod")
	w.mustPromoter(exitOK, "apply", "--config", w.cfg)
	if w.realImports() != 1 {
		t.Fatalf("real imports after the rebase merge = %d, want 1", w.realImports())
	}
	w.editObject(w.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.branchFiles(); got != "tenants/prod/TRANSFORM/Lowercase Email.json" {
		t.Errorf("the proposal after a rebase merge changes:\n%s\nwant only Lowercase Email", got)
	}
}

// TestPullRequestKeepsAPersonsMergedEdit: after a person's edit of the
// target folder is merged into main, the next proposal is built on it: the
// branch keeps the edit and its plan (main after the merge) imports it, not
// dev's value (issue 13 failure 3).
func TestPullRequestKeepsAPersonsMergedEdit(t *testing.T) {
	t.Parallel()
	w := newPRWorld(t)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.mergeFirstProposal()
	// A person's reviewed edit lands on main.
	w.reviewEdit("tenants/prod/TRANSFORM/Get Worker Type.json", "Full-Time", "Salaried", "prod: Salaried, not Full-Time")
	w.review("push", "-q", "origin", "main")
	// dev changes another object: the proposal holds only that one and keeps
	// the person's edit.
	w.editObject(w.dev, "TRANSFORM", "Lowercase Email", `"mail"`, `"email"`)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	if got := w.branchFiles(); got != "tenants/prod/TRANSFORM/Lowercase Email.json" {
		t.Errorf("the proposal changes:\n%s\nwant only Lowercase Email", got)
	}
	if got := gitOut(t, w.bare, "show", "promoter/dev-to-prod:tenants/prod/TRANSFORM/Get Worker Type.json"); !strings.Contains(got, "Salaried") {
		t.Errorf("the promotion branch does not keep the person's merged edit:\n%s", got)
	}
	classes := w.planJSON(exitOK, "--rev", "refs/heads/promoter/dev-to-prod")
	if classes["TRANSFORM Get Worker Type"] != "apply" || classes["TRANSFORM Lowercase Email"] != "apply" {
		t.Errorf("the pull request's plan: Get Worker Type %q, Lowercase Email %q; want both imported (the person's edit and dev's change)",
			classes["TRANSFORM Get Worker Type"], classes["TRANSFORM Lowercase Email"])
	}
}

// TestPullRequestConflictStaysBlockedWhenThePushFails: in pull-request mode
// a conflict blocks (exit 3, naming it) even when the push fails too; the
// push failure is reported beside it (issue 14 item 7).
func TestPullRequestConflictStaysBlockedWhenThePushFails(t *testing.T) {
	t.Parallel()
	w := newPRWorld(t)
	w.mustPromoter(exitOK, "run", "--config", w.cfg)
	w.mergeFirstProposal()
	// A person's edit on main and a dev change of the same object.
	w.reviewEdit("tenants/prod/TRANSFORM/Get Worker Type.json", "Full-Time", "Salaried", "prod: Salaried")
	w.review("push", "-q", "origin", "main")
	w.editObject(w.dev, "TRANSFORM", "Get Worker Type", "Contingent", "Contractor")
	// The remote now refuses every push.
	hook := filepath.Join(w.bare, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := w.promoter("run", "--config", w.cfg)
	if code != exitBlocked || !strings.Contains(out+errOut, "conflict: TRANSFORM Get Worker Type") || !strings.Contains(errOut, "push") {
		t.Errorf("a conflict with a failing push: exit %d, want 3 naming the conflict and the push\n%s\n%s", code, out, lastLines(errOut, 6))
	}
}
