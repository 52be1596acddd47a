package gitstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

const trackPrefix = "refs/remotes/origin/"

// syncPrefix holds the remote's bookkeeping refs as last fetched:
// refs/promoter-sync/promoter/... and refs/promoter-sync/notes/.... It is
// not refs/remotes/origin/, where git tracks branches: a branch named
// promoter/<pipeline> must never meet refs/promoter/<x> there.
const syncPrefix = "refs/promoter-sync/"

// bookkeepingKinds are the kinds of refs/promoter/<kind>/... promoter
// writes; any other ref under refs/promoter/ is removed on sync.
var bookkeepingKinds = []string{"offered", "applied", "observed", "hold"}

// BookkeepingKinds returns the kinds of refs/promoter/<kind>/... promoter
// writes; the slice is the caller's.
func BookkeepingKinds() []string { return slices.Clone(bookkeepingKinds) }

// auth returns the credentials for the remote's protocol.
func (r *Repo) auth() (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(r.o.Remote)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", redactURL(r.o.Remote), err)
	}
	switch ep.Protocol {
	case "http", "https":
		if r.o.Token == "" {
			return nil, nil
		}
		user := r.o.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: r.o.Token}, nil
	case "ssh":
		if r.o.SSHKeyFile == "" {
			return nil, nil
		}
		user := r.o.Username
		if user == "" {
			user = ep.User
		}
		if user == "" {
			user = "git"
		}
		k, err := gitssh.NewPublicKeysFromFile(user, r.o.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", r.o.SSHKeyFile, err)
		}
		return k, nil
	}
	return nil, nil
}

// remoteRefs lists the remote's refs (empty for an empty repository).
func (r *Repo) remoteRefs(ctx context.Context, auth transport.AuthMethod) (map[string]Hash, error) {
	rem, err := r.repo.Remote("origin")
	if err != nil {
		return nil, fmt.Errorf("remote origin: %w", err)
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[string]Hash{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list refs of %s: %w", redactURL(r.o.Remote), err)
	}
	out := map[string]Hash{}
	for _, ref := range refs {
		if ref.Type() == plumbing.HashReference {
			out[ref.Name().String()] = Hash(ref.Hash())
		}
	}
	return out, nil
}

// fetch brings the remote's branch into refs/remotes/origin/<branch> and its
// refs/promoter/* and refs/notes/* into refs/promoter-sync/.
func (r *Repo) fetch(ctx context.Context) error {
	auth, err := r.auth()
	if err != nil {
		return err
	}
	refs, err := r.remoteRefs(ctx, auth)
	if err != nil {
		return err
	}
	var specs []config.RefSpec
	if _, ok := refs[r.branchRef("")]; ok {
		specs = append(specs, config.RefSpec("+"+r.branchRef("")+":"+trackPrefix+r.o.Branch))
	}
	var promo, notes bool
	for n := range refs {
		promo = promo || strings.HasPrefix(n, "refs/promoter/")
		notes = notes || strings.HasPrefix(n, "refs/notes/")
	}
	if promo {
		specs = append(specs, "+refs/promoter/*:"+syncPrefix+"promoter/*")
	}
	if notes {
		specs = append(specs, "+refs/notes/*:"+syncPrefix+"notes/*")
	}
	if len(specs) == 0 {
		return nil
	}
	err = r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Auth: auth, Tags: git.NoTags, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch from %s: %w", redactURL(r.o.Remote), err)
	}
	r.refresh()
	return nil
}

// Sync fetches the branch, refs/promoter/* and refs/notes/* from the remote
// and fast-forwards the local ones (updating the working tree). Local
// commits the remote lacks are rebased onto the remote's when they touch
// other files. Without a remote it does nothing.
func (r *Repo) Sync(ctx context.Context) error {
	if r.o.Remote == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fetch(ctx); err != nil {
		return err
	}
	if err := r.integrate(ctx); err != nil {
		return err
	}
	return r.cleanBookkeeping(ctx)
}

// RemoteBranch returns the tip of a branch on the remote (fetched, so its
// commits can be read), or the zero Hash when the remote has no such branch.
// Without a remote it returns the local branch.
func (r *Repo) RemoteBranch(ctx context.Context, branch string) (Hash, error) {
	if r.o.Remote == "" {
		return r.Ref(r.branchRef(branch))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	auth, err := r.auth()
	if err != nil {
		return Hash{}, err
	}
	refs, err := r.remoteRefs(ctx, auth)
	if err != nil {
		return Hash{}, err
	}
	name := r.branchRef(branch)
	h, ok := refs[name]
	if !ok {
		return Hash{}, nil
	}
	if !r.hasCommit(h) {
		spec := config.RefSpec("+" + name + ":" + trackPrefix + strings.TrimPrefix(name, "refs/heads/"))
		err = r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: auth, Tags: git.NoTags, Force: true})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return Hash{}, fmt.Errorf("fetch %s from %s: %w", branch, redactURL(r.o.Remote), err)
		}
		r.refresh()
	}
	return h, nil
}

func (r *Repo) hasCommit(h Hash) bool {
	_, err := r.commitObject(h)
	return err == nil
}

// bookkeeping reports whether name is a ref of one of the kinds promoter
// writes under refs/promoter/.
func bookkeeping(name string) bool {
	rest, ok := strings.CutPrefix(name, "refs/promoter/")
	if !ok {
		return false
	}
	kind, _, ok := strings.Cut(rest, "/")
	return ok && slices.Contains(bookkeepingKinds, kind)
}

// cleanBookkeeping removes refs under refs/promoter/ that are none of the
// kinds promoter writes (an earlier version fetched bookkeeping through
// refs/remotes/origin/, where a branch promoter/<pipeline> is tracked too,
// and made refs/promoter/<pipeline> from it), locally and on the remote, and
// the bookkeeping left in the old fetch namespace. It logs one line.
func (r *Repo) cleanBookkeeping(ctx context.Context) error {
	refs, err := r.st.IterReferences()
	if err != nil {
		return err
	}
	var local, remote, old []string
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		n := ref.Name().String()
		switch {
		case strings.HasPrefix(n, "refs/promoter/") && !bookkeeping(n):
			local = append(local, n)
		case strings.HasPrefix(n, syncPrefix+"promoter/") && !bookkeeping("refs/"+strings.TrimPrefix(n, syncPrefix)):
			remote = append(remote, "refs/"+strings.TrimPrefix(n, syncPrefix))
			old = append(old, n)
		case strings.HasPrefix(n, trackPrefix+"notes/"):
			old = append(old, n)
		case strings.HasPrefix(n, trackPrefix+"promoter/") && bookkeeping("refs/"+strings.TrimPrefix(n, trackPrefix)):
			old = append(old, n)
		}
		return nil
	})
	if len(local)+len(remote)+len(old) == 0 {
		return nil
	}
	for _, n := range append(slices.Clone(local), old...) {
		if err := r.st.RemoveReference(plumbing.ReferenceName(n)); err != nil {
			return fmt.Errorf("remove %s: %w", n, err)
		}
	}
	if len(remote) > 0 {
		r.deletes = remote
		_, err := r.pushOnce(ctx, nil)
		r.deletes = nil
		if err != nil {
			return fmt.Errorf("remove %s from %s: %w", strings.Join(remote, ", "), redactURL(r.o.Remote), err)
		}
	}
	slices.Sort(local)
	slices.Sort(remote)
	r.log.Warn("removed refs that are not promoter bookkeeping (offered, applied, observed, hold); an earlier version created them by mistake",
		"local", strings.Join(local, " "), "remote", strings.Join(remote, " "), "oldTracking", len(old))
	return nil
}

// integrate merges the fetched remote-tracking refs into the local ones.
func (r *Repo) integrate(ctx context.Context) error {
	local := r.branchRef("")
	remote, err := r.Ref(trackPrefix + r.o.Branch)
	if err != nil {
		return err
	}
	if !remote.IsZero() {
		if err := r.integrateBranch(ctx, local, remote); err != nil {
			return err
		}
	}
	refs, err := r.st.IterReferences()
	if err != nil {
		return err
	}
	type pair struct {
		local string
		h     Hash
	}
	var tracked []pair
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		n := ref.Name().String()
		if ref.Type() != plumbing.HashReference {
			return nil
		}
		if rest, ok := strings.CutPrefix(n, syncPrefix+"promoter/"); ok && bookkeeping("refs/promoter/"+rest) {
			tracked = append(tracked, pair{"refs/promoter/" + rest, Hash(ref.Hash())})
		}
		if rest, ok := strings.CutPrefix(n, syncPrefix+"notes/"); ok {
			tracked = append(tracked, pair{"refs/notes/" + rest, Hash(ref.Hash())})
		}
		return nil
	})
	for _, t := range tracked {
		cur, err := r.Ref(t.local)
		if err != nil {
			return err
		}
		switch {
		case cur == t.h:
		case cur.IsZero():
			err = r.casRef(t.local, t.h, cur)
		case r.isAncestor(cur, t.h):
			err = r.casRef(t.local, t.h, cur)
		case r.isAncestor(t.h, cur):
		case strings.HasPrefix(t.local, "refs/notes/"):
			err = r.mergeNotes(t.local, cur, t.h)
		default:
			r.log.Warn("local ref differs from the remote's; keeping the local value", "ref", t.local, "local", cur.String(), "remote", t.h.String())
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", t.local, err)
		}
	}
	return nil
}

// integrateBranch fast-forwards local to remote, or rebases local commits
// onto remote when they diverged.
func (r *Repo) integrateBranch(ctx context.Context, ref string, remote Hash) error {
	cur, err := r.Ref(ref)
	if err != nil {
		return err
	}
	switch {
	case cur == remote, r.isAncestor(remote, cur):
		return nil
	case cur.IsZero() || r.isAncestor(cur, remote):
		return r.moveBranch(ref, cur, remote)
	}
	return r.rebase(ctx, ref, cur, remote)
}

// moveBranch moves a branch to a descendant or rebased commit, updating
// the working tree when it is checked out (never over uncommitted work).
func (r *Repo) moveBranch(ref string, from, to Hash) error {
	checked := r.checkedOut(ref)
	var cs []changed
	var il *indexLock
	if checked {
		if err := r.finishInterrupted(); err != nil {
			return fmt.Errorf("update %s to %s: %w", ref, short(to), err)
		}
		var err error
		if cs, err = r.changedBetween(from, to); err != nil {
			return err
		}
		// held until the index is written, as in commitRef
		if il, err = r.lockIndex(); err != nil {
			return fmt.Errorf("update %s to %s: %w", ref, short(to), err)
		}
		defer il.release()
		if err := r.checkWorktree(cs, il); err != nil {
			return fmt.Errorf("update %s to %s: %w", ref, short(to), err)
		}
		if err := r.writeJournal(journal{Ref: ref, Old: from.String(), New: to.String()}); err != nil {
			return err
		}
	}
	if err := r.casRef(ref, to, from); err != nil {
		r.removeJournal()
		return err
	}
	if checked {
		if err := r.updateWorktree(cs, false, il); err != nil {
			return fmt.Errorf("update working tree to %s: %w", short(to), err)
		}
		r.removeJournal()
	}
	r.log.Info("updated branch", "ref", ref, "from", from.String(), "to", to.String())
	return nil
}

// ancestors returns every commit reachable from the given ones that exists
// locally.
func (r *Repo) ancestors(tips ...Hash) map[Hash]bool {
	seen := map[Hash]bool{}
	stack := append([]Hash(nil), tips...)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if h.IsZero() || seen[h] {
			continue
		}
		c, err := r.commitObject(h)
		if err != nil {
			continue
		}
		seen[h] = true
		stack = append(stack, hashes(c.ParentHashes)...)
	}
	return seen
}

// isAncestor reports whether a is b or an ancestor of b.
// IsAncestor reports whether commit a is b or one of its ancestors.
func (r *Repo) IsAncestor(a, b Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh()
	return r.isAncestor(a, b)
}

func (r *Repo) isAncestor(a, b Hash) bool {
	if a == b {
		return true
	}
	if a.IsZero() || b.IsZero() {
		return false
	}
	return r.ancestors(b)[a]
}

// rebase replays the local commits since the merge base onto remote, when
// they touch files the remote's new commits do not, and moves ref there.
func (r *Repo) rebase(ctx context.Context, ref string, local, remote Hash) error {
	remoteSet := r.ancestors(remote)
	var mine []*object.Commit
	h := local
	for i := 0; !remoteSet[h]; i++ {
		c, err := r.commitObject(h)
		if err != nil {
			return fmt.Errorf("rebase %s: %w", ref, err)
		}
		if len(c.ParentHashes) > 1 {
			return fmt.Errorf("rebase %s: local commit %s is a merge: integrate %s by hand: %s, then run promoter again", ref, short(h), redactURL(r.o.Remote), r.pullCommand())
		}
		mine = append(mine, c)
		if len(c.ParentHashes) == 0 {
			h = Hash{}
			break
		}
		h = Hash(c.ParentHashes[0])
	}
	mergeBase := h
	theirs, err := r.ChangedPaths(mergeBase, remote, "")
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	for _, p := range theirs {
		touched[p] = true
	}
	tip := remote
	remap := map[Hash]Hash{}
	for i := len(mine) - 1; i >= 0; i-- {
		c := mine[i]
		var parent Hash
		if len(c.ParentHashes) > 0 {
			parent = Hash(c.ParentHashes[0])
		}
		cs, err := r.changedBetween(parent, Hash(c.Hash))
		if err != nil {
			return err
		}
		b := &treeBuilder{r: r, objs: map[Hash]newObject{}}
		root := &pending{}
		for _, x := range cs {
			if touched[x.path] {
				return fmt.Errorf("push %s rejected and cannot be rebased: %s was changed both by local commit %s and on %s; integrate by hand: %s (resolve the conflict, git rebase --continue), then run promoter again", ref, x.path, short(Hash(c.Hash)), redactURL(r.o.Remote), r.pullCommand())
			}
			root.add(strings.Split(x.path, "/"), nil, x.new, x.path) // the blob is in the repository
		}
		baseTree, err := r.rootTree(tip)
		if err != nil {
			return err
		}
		nt, err := b.apply(baseTree, root, "")
		if err != nil {
			return err
		}
		nc := &object.Commit{Author: c.Author, Committer: c.Committer, Message: c.Message, TreeHash: plumbing.Hash(nt), ParentHashes: []plumbing.Hash{plumbing.Hash(tip)}}
		nh, err := b.addCommit(nc)
		if err != nil {
			return err
		}
		if err := r.writeObjects(b.objs); err != nil {
			return err
		}
		remap[Hash(c.Hash)] = nh
		tip = nh
	}
	if err := r.moveBranch(ref, local, tip); err != nil {
		return err
	}
	r.log.Info("rebased local commits onto the remote", "ref", ref, "commits", len(mine), "tip", tip.String())
	// carry promoter refs and notes over to the rebased commits
	refs, err := r.st.IterReferences()
	if err != nil {
		return err
	}
	var moves [][3]string
	_ = refs.ForEach(func(x *plumbing.Reference) error {
		if x.Type() == plumbing.HashReference && strings.HasPrefix(x.Name().String(), "refs/promoter/") {
			if nh, ok := remap[Hash(x.Hash())]; ok {
				moves = append(moves, [3]string{x.Name().String(), x.Hash().String(), nh.String()})
			}
		}
		return nil
	})
	for _, m := range moves {
		if err := r.casRef(m[0], Hash(plumbing.NewHash(m[2])), Hash(plumbing.NewHash(m[1]))); err != nil {
			return err
		}
	}
	if err := r.moveNotes(remap); err != nil {
		return err
	}
	_ = ctx
	return nil
}

// pullCommand is the exact git command that integrates the remote's branch
// into this working copy by hand (the branch has no upstream configured, so
// a bare "git pull" would not know what to pull).
func (r *Repo) pullCommand() string {
	return "git -C " + shellQuote(r.path) + " pull --rebase origin " + shellQuote(r.o.Branch)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// moveNotes moves the notes of rebased commits (old -> new in remap) to
// their new commits in one notes commit: a record stays on the commit the
// branch holds, and none is left on the commit it replaced.
func (r *Repo) moveNotes(remap map[Hash]Hash) error {
	var changes []Change
	for _, old := range slices.SortedFunc(maps.Keys(remap), func(a, b Hash) int { return strings.Compare(a.String(), b.String()) }) {
		data, ok, err := r.Note(old)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		nn := noteNames(remap[old])
		changes = append(changes, Change{Path: nn[0], Content: data}, Change{Path: nn[1]}, Change{Path: nn[2]})
		for _, n := range noteNames(old) {
			changes = append(changes, Change{Path: n})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	_, err := r.commitRef(context.Background(), notesRef, Hash{}, false, "Notes moved by 'promoter' to rebased commits\n", changes, false)
	return err
}

// mergeNotes merges two diverged notes refs: the union of notes, the local
// note winning when both annotate the same commit.
func (r *Repo) mergeNotes(ref string, local, remote Hash) error {
	flat := func(c Hash) (map[string]Hash, error) {
		t, err := r.rootTree(c)
		if err != nil {
			return nil, err
		}
		m := map[string]Hash{}
		err = r.diffTrees(emptyTree, t, "", func(p string, _, y object.TreeEntry) {
			m[strings.ReplaceAll(p, "/", "")] = Hash(y.Hash)
		})
		return m, err
	}
	lm, err := flat(local)
	if err != nil {
		return err
	}
	rm, err := flat(remote)
	if err != nil {
		return err
	}
	for k, v := range lm {
		rm[k] = v
	}
	ents := make([]object.TreeEntry, 0, len(rm))
	for k, v := range rm {
		ents = append(ents, object.TreeEntry{Name: k, Mode: filemode.Regular, Hash: plumbing.Hash(v)})
	}
	sortTree(ents)
	b := &treeBuilder{r: r, objs: map[Hash]newObject{}}
	th := b.put(plumbing.TreeObject, encodeTree(ents))
	now := r.o.Now()
	sig := object.Signature{Name: r.o.AuthorName, Email: r.o.AuthorEmail, When: now}
	ch, err := b.addCommit(&object.Commit{Author: sig, Committer: sig, Message: "Merge notes from " + redactURL(r.o.Remote) + "\n", TreeHash: plumbing.Hash(th), ParentHashes: []plumbing.Hash{plumbing.Hash(local), plumbing.Hash(remote)}})
	if err != nil {
		return err
	}
	if err := r.writeObjects(b.objs); err != nil {
		return err
	}
	return r.casRef(ref, ch, local)
}

// Push sends the configured branch (and the extra branches given, which are
// promoter's own and pushed with force), refs/promoter/* and refs/notes/* to
// the remote. Only the objects added since the remote's tips are sent. When
// the remote rejects the branch because it moved, Push fetches, rebases the
// local commits if they touch other files, and tries again; otherwise it
// fails with a message saying what to do.
func (r *Repo) Push(ctx context.Context, branches ...string) error {
	if r.o.Remote == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var last error
	for attempt := 0; attempt < 4; attempt++ {
		retry, err := r.pushOnce(ctx, branches)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			return err
		}
		r.log.Info("push rejected, fetching and retrying", "attempt", attempt+1, "err", err)
		if err := r.fetch(ctx); err != nil {
			return err
		}
		if err := r.integrate(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("push to %s: gave up after repeated rejections: %w", redactURL(r.o.Remote), last)
}

// pushOnce attempts one push; retry says whether fetching and integrating
// may help.
func (r *Repo) pushOnce(ctx context.Context, branches []string) (retry bool, err error) {
	r.refresh()
	auth, err := r.auth()
	if err != nil {
		return false, err
	}
	ep, err := transport.NewEndpoint(r.o.Remote)
	if err != nil {
		return false, fmt.Errorf("push: remote %s: %w", redactURL(r.o.Remote), err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return false, fmt.Errorf("push to %s: %w", redactURL(r.o.Remote), err)
	}
	sess, err := cl.NewReceivePackSession(ep, auth)
	if err != nil {
		return false, fmt.Errorf("push to %s: %w", redactURL(r.o.Remote), err)
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return false, fmt.Errorf("push to %s: %w", redactURL(r.o.Remote), err)
	}
	remote := map[string]Hash{}
	if ar != nil {
		for n, h := range ar.References {
			remote[n] = Hash(h)
		}
	}
	// the refs to push
	force := map[string]bool{}
	want := map[string]Hash{}
	main := r.branchRef("")
	for _, b := range append([]string{""}, branches...) {
		n := r.branchRef(b)
		h, err := r.Ref(n)
		if err != nil {
			return false, err
		}
		if !h.IsZero() {
			want[n] = h
			force[n] = n != main
		}
	}
	refs, err := r.st.IterReferences()
	if err != nil {
		return false, err
	}
	_ = refs.ForEach(func(x *plumbing.Reference) error {
		n := x.Name().String()
		if x.Type() == plumbing.HashReference && (strings.HasPrefix(n, "refs/promoter/") || strings.HasPrefix(n, "refs/notes/")) {
			want[n] = Hash(x.Hash())
			force[n] = strings.HasPrefix(n, "refs/promoter/")
		}
		return nil
	})
	for _, n := range r.deletes {
		want[n], force[n] = Hash{}, true
	}
	var cmds []*packp.Command
	var tips []Hash
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h, old := want[n], remote[n]
		if h == old {
			continue
		}
		if !old.IsZero() && !force[n] && !r.isAncestor(old, h) {
			return true, fmt.Errorf("push %s to %s: rejected, the remote has commits this repository lacks", n, redactURL(r.o.Remote))
		}
		cmds = append(cmds, &packp.Command{Name: plumbing.ReferenceName(n), Old: plumbing.Hash(old), New: plumbing.Hash(h)})
		if !h.IsZero() {
			tips = append(tips, h)
		}
	}
	if len(cmds) == 0 {
		return false, nil
	}
	var haves []Hash
	for _, h := range remote {
		haves = append(haves, h)
	}
	objs, err := r.newObjects(tips, haves)
	if err != nil {
		return false, fmt.Errorf("push to %s: %w", redactURL(r.o.Remote), err)
	}
	req := packp.NewReferenceUpdateRequest()
	if ar != nil {
		req = packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	}
	req.Commands = cmds
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		_, err := packfile.NewEncoder(wr, r.st, false).Encode(plumbingHashes(objs), 0)
		done <- wr.CloseWithError(err)
	}()
	rs, err := sess.ReceivePack(ctx, req)
	rd.Close()
	perr := <-done
	if err != nil {
		msg := err.Error()
		retry := strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "fetch first") || strings.Contains(msg, "stale info") || strings.Contains(msg, "failed to lock")
		return retry, fmt.Errorf("push to %s: %w", redactURL(r.o.Remote), err)
	}
	if perr != nil && !errors.Is(perr, io.ErrClosedPipe) {
		return false, fmt.Errorf("push to %s: encode pack: %w", redactURL(r.o.Remote), perr)
	}
	if rs != nil {
		if err := rs.Error(); err != nil {
			msg := err.Error()
			retry := strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "fetch first") || strings.Contains(msg, "failed to lock") || strings.Contains(msg, "stale")
			return retry, fmt.Errorf("push to %s: %w", redactURL(r.o.Remote), err)
		}
	}
	for _, c := range cmds {
		n := c.Name.String()
		var track string
		switch {
		case strings.HasPrefix(n, "refs/heads/"):
			track = trackPrefix + strings.TrimPrefix(n, "refs/heads/")
		default:
			track = syncPrefix + strings.TrimPrefix(n, "refs/")
		}
		if c.New.IsZero() {
			_ = r.st.RemoveReference(plumbing.ReferenceName(track))
			continue
		}
		if err := r.st.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(track), c.New)); err != nil {
			return false, err
		}
	}
	r.log.Info("pushed", "remote", redactURL(r.o.Remote), "refs", len(cmds), "objects", len(objs))
	return false, nil
}

// newObjects lists the objects reachable from tips that the remote lacks,
// given the remote's tips: the new commits plus, for each, the trees and
// blobs that differ from its first parent's. It never walks the history the
// remote already has beyond its commits (go-git issue 1102).
func (r *Repo) newObjects(tips, haves []Hash) ([]Hash, error) {
	known := r.ancestors(haves...)
	seen := map[Hash]bool{}
	var out []Hash
	add := func(h Hash) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	var walkTree func(t, pt Hash) error
	walkTree = func(t, pt Hash) error {
		if t == pt || seen[t] {
			return nil
		}
		add(t)
		ents, err := r.treeEntries(t)
		if err != nil {
			return err
		}
		pents, err := r.treeEntries(pt)
		if err != nil {
			return err
		}
		pm := make(map[string]object.TreeEntry, len(pents))
		for _, e := range pents {
			pm[e.Name] = e
		}
		for _, e := range ents {
			p, ok := pm[e.Name]
			if ok && p.Hash == e.Hash {
				continue
			}
			switch {
			case e.Mode == filemode.Dir:
				var sub Hash = emptyTree
				if ok && p.Mode == filemode.Dir {
					sub = Hash(p.Hash)
				}
				if err := walkTree(Hash(e.Hash), sub); err != nil {
					return err
				}
			case e.Mode == filemode.Submodule:
			default:
				add(Hash(e.Hash))
			}
		}
		return nil
	}
	visited := map[Hash]bool{}
	stack := append([]Hash(nil), tips...)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if h.IsZero() || known[h] || visited[h] {
			continue
		}
		visited[h] = true
		c, err := r.commitObject(h)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", short(h), err)
		}
		add(h)
		pt := emptyTree
		if len(c.ParentHashes) > 0 {
			if pt, err = r.rootTree(Hash(c.ParentHashes[0])); err != nil {
				return nil, err
			}
		}
		if Hash(c.TreeHash) == emptyTree {
			add(emptyTree)
		}
		if err := walkTree(Hash(c.TreeHash), pt); err != nil {
			return nil, err
		}
		stack = append(stack, hashes(c.ParentHashes)...)
	}
	return out, nil
}
