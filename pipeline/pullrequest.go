package pipeline

import (
	"context"
	"fmt"
	"strings"

	"promoter/gitstore"
)

// Pull-request mode (DESIGN section 5, step 4): every run rebuilds branch
// promoter/<pipeline> on the current branch tip with exactly the pending
// proposal. What happened to the last pull request is read from git: its
// branch on the remote, and whether main holds its changes (a merge commit,
// a squash or a rebase merge all leave the same files).

// prState is what became of the last proposal's branch.
type prState struct {
	tip     gitstore.Hash // the branch's tip on the remote (zero when gone)
	pending bool          // open and not merged: its changes are proposed again
	base    gitstore.Hash // a pending branch's Promoter-Offered-From
	merged  bool
	// declined lists the files of a branch that is gone without being
	// merged: the reviewer closed it; its changes are not proposed again
	// until the source changes those objects again.
	declined []string
}

// maxBranchWalk bounds the commits read from a promotion branch's tip back
// to the main branch.
const maxBranchWalk = 50

// pullRequestState works out what became of the promotion branch since the
// last run. A branch holding commits promoter did not write is refused
// (BlockedError): it is never overwritten.
func (r *Runner) pullRequestState(ctx context.Context, head gitstore.Hash) (*prState, error) {
	p := r.Pipeline
	branch := prBranch(p)
	st := &prState{}
	tip, err := r.Store.RemoteBranch(ctx, branch)
	if err != nil {
		return nil, fmt.Errorf("read branch %s: %w", branch, err)
	}
	local, err := r.Store.Ref("refs/heads/" + branch)
	if err != nil {
		return nil, err
	}
	st.tip = tip
	last := tip
	if last.IsZero() {
		last = local
	}
	if last.IsZero() {
		return st, nil
	}
	commits, fork, err := r.branchCommits(last, head)
	if err != nil {
		return nil, err
	}
	changed, err := r.Store.ChangedPaths(fork, last, tenantDir(p.Target))
	if err != nil {
		return nil, err
	}
	forge, err := r.forgeState(ctx, branch)
	if err != nil {
		return nil, err
	}
	st.merged = forge == PullRequestMerged || r.Store.IsAncestor(last, head) || r.holdsChanges(head, last, changed)
	switch {
	case st.merged:
		return st, nil
	case tip.IsZero() || forge == PullRequestClosed:
		st.declined = changed
		r.log().Info("the last pull request was closed without merging (or its branch deleted): its changes are declined and not proposed again until the source changes them",
			"pipeline", p.Name, "branch", branch, "files", strings.Join(changed, ", "))
		return st, nil
	}
	for _, c := range commits {
		if c.Trailers["Promoter-Pipeline"] != p.Name || c.Trailers["Promoter-Source-Commit"] == "" {
			subject, _, _ := strings.Cut(c.Message, "\n")
			return nil, &BlockedError{Pipeline: p.Name, Reasons: []string{fmt.Sprintf(
				"branch %s holds commit %s (%q) that promoter did not write; promoter proposes nothing for %s and never overwrites it: merge or close its pull request, or delete the branch (git push origin --delete %s)",
				branch, short(c.Hash), subject, p.Name, branch)}}
		}
	}
	st.pending = true
	if from := commits[len(commits)-1].Trailers["Promoter-Offered-From"]; from != "" && from != "none" {
		st.base = hashOf(from)
	}
	return st, nil
}

// forgeState asks the forge what became of the branch's last pull request
// ("" without a forge that can tell).
func (r *Runner) forgeState(ctx context.Context, branch string) (string, error) {
	fs, ok := r.PullRequests.(PullRequestStater)
	if !ok {
		return "", nil
	}
	s, err := fs.LastState(ctx, branch)
	if err != nil {
		return "", fmt.Errorf("read the pull request state of %s: %w", branch, err)
	}
	return s, nil
}

// branchCommits lists the commits of a promotion branch from its tip back
// to the commit it forked from main (fork), newest first.
func (r *Runner) branchCommits(tip, head gitstore.Hash) ([]gitstore.CommitInfo, gitstore.Hash, error) {
	var out []gitstore.CommitInfo
	h := tip
	for range maxBranchWalk {
		if h.IsZero() || r.Store.IsAncestor(h, head) {
			return out, h, nil
		}
		ci, err := r.Store.CommitInfo(h)
		if err != nil {
			return nil, h, err
		}
		out = append(out, ci)
		if len(ci.Parents) == 0 {
			return out, gitstore.Hash{}, nil
		}
		h = ci.Parents[0]
	}
	return out, h, nil
}

// holdsChanges reports whether head holds every changed file of the branch
// tip as the tip has it (a squash or rebase merge).
func (r *Runner) holdsChanges(head, tip gitstore.Hash, paths []string) bool {
	if len(paths) == 0 {
		return false
	}
	a, err := r.Store.ReadFiles(head, paths)
	if err != nil {
		return false
	}
	b, err := r.Store.ReadFiles(tip, paths)
	if err != nil {
		return false
	}
	for _, p := range paths {
		x, inA := a[p]
		y, inB := b[p]
		if inA != inB || string(x) != string(y) {
			return false
		}
	}
	return true
}

// resetBranch points the local promotion branch at base (deleting it first,
// so the next commit starts from base).
func (r *Runner) resetBranch(branch string, base gitstore.Hash) error {
	name := "refs/heads/" + branch
	cur, err := r.Store.Ref(name)
	if err != nil || cur.IsZero() {
		return err
	}
	if err := r.Store.SetRef(name, gitstore.Hash{}, cur); err != nil {
		return fmt.Errorf("rebuild %s on %s: %w", branch, short(base), err)
	}
	return nil
}
