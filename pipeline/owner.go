package pipeline

import (
	"regexp"

	"promoter/gitstore"
)

// writer is who last changed a file of the target folder.
type writer string

const (
	writerPromote  writer = "promote"  // a promotion commit
	writerBaseline writer = "baseline" // a baseline commit (the live target, unchanged)
	writerAdopt    writer = "adopt"    // an adoption commit (the live target, unchanged)
	writerRevert   writer = "revert"   // a revert of one of promoter's commits (git revert, promoter rollback)
	writerPerson   writer = "person"   // anything else: an edit by a person
	writerDryRun   writer = "dry-run"  // written by an earlier step of this dry run

	// ownerWalkLimit bounds the history walk that finds a file's last writer.
	ownerWalkLimit = 5000
)

// promoters reports whether the writer is promoter (or a revert of
// promoter): such a file may be replaced by the next source change.
func (w writer) promoters() bool { return w != writerPerson }

var revertsRe = regexp.MustCompile(`This reverts commit ([0-9a-f]{40})`)

// commitWriter classifies a commit of the branch as a writer of the files it
// changed. depth bounds revert-of-revert chains.
func (r *Runner) commitWriter(ci gitstore.CommitInfo, depth int) writer {
	switch {
	case ci.Trailers[trailerBaseline] != "":
		return writerBaseline
	case ci.Trailers[trailerAdopt] != "":
		return writerAdopt
	case ci.Trailers["Promoter-Pipeline"] != "" && ci.Trailers["Promoter-Source-Commit"] != "":
		return writerPromote
	}
	m := revertsRe.FindStringSubmatch(ci.Message)
	if m == nil || depth > 8 {
		return writerPerson
	}
	orig, err := r.Store.CommitInfo(hashOf(m[1]))
	if err != nil {
		return writerPerson
	}
	if r.commitWriter(orig, depth+1).promoters() {
		return writerRevert
	}
	return writerPerson
}

// lastWriters finds, for each path, who last changed it on the first-parent
// history of v (an overlay path was written by this dry run). Paths that no
// commit within the walk limit changed are left out: callers treat them as
// a person's.
func (r *Runner) lastWriters(v view, paths []string) (map[string]writer, error) {
	out := map[string]writer{}
	pending := map[string]bool{}
	for _, p := range paths {
		if _, ok := v.over[p]; ok {
			out[p] = writerDryRun
			continue
		}
		pending[p] = true
	}
	dir := tenantDir(r.Pipeline.Target)
	h := v.rev
	for i := 0; i < ownerWalkLimit && len(pending) > 0 && !h.IsZero(); i++ {
		ci, err := r.Store.CommitInfo(h)
		if err != nil {
			return nil, err
		}
		var parent gitstore.Hash
		if len(ci.Parents) > 0 {
			parent = ci.Parents[0]
		}
		changed, err := r.Store.ChangedPaths(parent, h, dir)
		if err != nil {
			return nil, err
		}
		var w writer
		var merged []string
		for _, p := range changed {
			if !pending[p] {
				continue
			}
			if len(ci.Parents) > 1 && ci.Trailers["Promoter-Pipeline"] == "" {
				merged = append(merged, p) // a merge: the branch's history says who wrote it
				continue
			}
			if w == "" {
				w = r.commitWriter(ci, 0)
			}
			out[p] = w
			delete(pending, p)
		}
		if len(merged) > 0 {
			if err := r.mergedWriters(ci, merged, out); err != nil {
				return nil, err
			}
			for _, p := range merged {
				delete(pending, p)
			}
		}
		h = parent
	}
	return out, nil
}

// mergedWriters attributes the files a merge commit changed to whoever last
// wrote them on the merged branch (its second parent), when the merge kept
// the branch's version; a file the merge itself changed is a person's.
func (r *Runner) mergedWriters(ci gitstore.CommitInfo, paths []string, out map[string]writer) error {
	second := ci.Parents[1]
	mine, err := r.Store.ReadFiles(ci.Hash, paths)
	if err != nil {
		return err
	}
	theirs, err := r.Store.ReadFiles(second, paths)
	if err != nil {
		return err
	}
	var same []string
	for _, p := range paths {
		a, inA := mine[p]
		b, inB := theirs[p]
		if inA == inB && string(a) == string(b) {
			same = append(same, p)
		} else {
			out[p] = writerPerson
		}
	}
	if len(same) == 0 {
		return nil
	}
	ws, err := r.lastWriters(commitView(second), same)
	if err != nil {
		return err
	}
	for _, p := range same {
		if w, ok := ws[p]; ok {
			out[p] = w
		} else {
			out[p] = writerPerson
		}
	}
	return nil
}
