package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"promoter/config"
	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
)

// Conflict is a target file edited since promoter last wrote it while the
// source changed the same object: it is not overwritten and blocks the run.
type Conflict struct {
	Path   string `json:"path"`
	Object string `json:"object"`
	Reason string `json:"reason"`
	// Target is the target file as it is (the person's edit), Source the
	// mapped source version promoter would write; the plan shows their diff.
	Target json.RawMessage `json:"target,omitempty"`
	Source json.RawMessage `json:"source,omitempty"`
}

// conflictDiff is the field diff of each conflict: target file -> mapped
// source version.
func conflictDiff(cs []Conflict) (diff.Result, error) {
	var out diff.Result
	for _, c := range cs {
		if c.Target == nil || c.Source == nil {
			continue
		}
		a, err := gitstore.DecodeFile(c.Path, c.Target)
		if err != nil {
			return out, err
		}
		b, err := gitstore.DecodeFile(c.Path, c.Source)
		if err != nil {
			return out, err
		}
		d, err := diff.Compare([]spconfig.Entry{a}, []spconfig.Entry{b}, diff.Options{CrossTenant: true})
		if err != nil {
			return out, err
		}
		for _, ch := range d.Changes {
			ch.Note = "conflict: the target file (old side) was edited by a person; the new side is the mapped source version"
			out.Changes = append(out.Changes, ch)
		}
	}
	return out, nil
}

// proposal is the outcome of the propose step: a baseline of live objects
// the pipeline starts managing, then the source changes since offered.
type proposal struct {
	offered gitstore.Hash // the source revision last offered (the offered ref)
	from    gitstore.Hash // the source revision the proposal starts from (offered, or a pending pull request's base)
	srcRev  gitstore.Hash // the source revision offered now

	baseline    []gitstore.Change  // live target objects taken into the target folder, unchanged
	baselined   []string           // their paths
	refTypes    []string           // types whose drift reference the baseline (re)records
	refObjects  []gitstore.FileRef // that reference: old reference plus the baselined objects
	firstRefFor []string           // types that had no reference before (first promotion, migration)

	changes   []gitstore.Change // source changes copied into the target folder (mappings applied)
	changed   []string
	conflicts []Conflict

	baselineCommit gitstore.Hash // commits made (zero in a dry run or when nothing changed)
	commit         gitstore.Hash
	head           gitstore.Hash // tip to plan against (branch tip in pull-request mode)
	branch         string
}

// candidate is one target file the proposal may write.
type candidate struct {
	dst     string
	key     spconfig.Key
	want    []byte // nil deletes
	cur     []byte
	prev    []byte // what promoter wrote for the offered source version (today's mappings)
	reoffer bool   // not changed in the source: a mapping may give it a new value
}

// propose works out what the target folder needs: the baseline of live
// objects that have no file there yet (every object of a type promoter has
// never observed; otherwise those a source change is about to write), and
// the source changes since offered, with mappings applied. tv is the
// repository (the target folder), sv the source folder's revision.
//
// from is where the source changes are counted from: nil for the offered
// ref, or the base of a pull request still pending (its changes are
// proposed again, on the current branch tip).
func (r *Runner) propose(tv, sv view, obs *observation, ref *reference, from *gitstore.Hash) (*proposal, error) {
	p := r.Pipeline
	offered, err := r.Store.Ref(offeredRef(p.Name))
	if err != nil {
		return nil, err
	}
	prop := &proposal{offered: offered, from: offered, srcRev: sv.rev}
	if from != nil {
		prop.from = *from
	}
	if sv.empty() {
		return prop, nil
	}
	cands, err := r.candidates(tv, sv, prop.from, offered)
	if err != nil {
		return nil, err
	}
	if err := r.planBaseline(prop, tv, cands, obs, ref); err != nil {
		return nil, err
	}
	var existing []string
	for _, c := range cands {
		if c.cur != nil {
			existing = append(existing, c.dst)
		}
	}
	writers, err := r.lastWriters(tv, existing)
	if err != nil {
		return nil, fmt.Errorf("find who last changed the target files: %w", err)
	}
	baselined := map[string]gitstore.Change{}
	for _, c := range prop.baseline {
		baselined[c.Path] = c
	}
	same, err := r.alreadyLive(sv, cands, baselined, obs)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		if same[c.key] {
			continue // the baseline already holds it (equal across tenants)
		}
		cur, w := c.cur, writers[c.dst]
		switch {
		case cur == nil:
			b, ok := baselined[c.dst]
			if !ok {
				break
			}
			if sameContent(b, c.want) {
				continue
			}
			// The baseline's file is promoter's to replace; its bytes are
			// needed only for the comparison above.
			w = writerBaseline
		case (w == "" || w == writerPerson) && c.prev != nil && bytes.Equal(cur, c.prev):
			// What promoter offered last, merged by a person (a squash or
			// rebase merge of its pull request).
			w = writerPromote
		case w == writerPerson && r.isLive(obs, c.key, c.dst, cur):
			// The live target's version, committed by a person: a squash of
			// an adoption branch (or an adoption by hand).
			w = writerAdopt
		case w == "":
			w = writerPerson
		}
		if bytes.Equal(cur, c.want) {
			continue
		}
		switch {
		case c.reoffer && w != writerPromote:
			continue // a mapping change re-offers only what a promotion wrote
		case cur != nil && !w.promoters():
			prop.conflicts = append(prop.conflicts, Conflict{
				Path:   c.dst,
				Object: c.key.String(),
				Reason: fmt.Sprintf("%s was edited in the target folder since promoter last wrote it and %s changed the object too; "+
					"make the target file equal to the mapped source version (the plan's Conflicts section shows both), delete it (git rm) to accept it, "+
					"or exclude the object in the pipeline", c.dst, p.Source),
				Target: cur, Source: c.want,
			})
			continue
		}
		prop.changes = append(prop.changes, gitstore.Change{Path: c.dst, Content: c.want})
		prop.changed = append(prop.changed, c.dst)
	}
	return prop, nil
}

// sameContent reports whether a change sets its file to data.
func sameContent(c gitstore.Change, data []byte) bool {
	if c.Content != nil {
		return bytes.Equal(c.Content, data)
	}
	return !c.Blob.IsZero() && c.Blob == gitstore.BlobID(data)
}

// isLive reports whether a target file holds the observed live version of
// its object (volatile fields aside).
func (r *Runner) isLive(obs *observation, k spconfig.Key, path string, content []byte) bool {
	if obs == nil {
		return false
	}
	live, ok, err := r.liveEntry(obs, k)
	if err != nil || !ok {
		return false
	}
	e, err := gitstore.DecodeFile(path, content)
	return err == nil && gitstore.SemanticEqual(e, live)
}

// alreadyLive finds the candidates that a baseline of this run takes into
// the target folder and that equal the source version under the
// cross-tenant rules (ids translated through both whole sets): copying them
// would only swap the tenants' ids, so the promotion commit leaves them out.
func (r *Runner) alreadyLive(sv view, cands []candidate, baselined map[string]gitstore.Change, obs *observation) (map[spconfig.Key]bool, error) {
	// The source versions are decoded once for the id index (kept thin)
	// and again a batch at a time for the comparison, so a first promotion,
	// whose every object is a candidate, does not hold them all decoded
	// (issue 18: 87 MB at 50,000 objects).
	want := map[spconfig.Key]*spconfig.Entry{}
	last := map[spconfig.Key]*candidate{} // of a key twice, the last
	var todo []*candidate
	for i := range cands {
		c := &cands[i]
		if _, ok := baselined[c.dst]; c.cur != nil || c.want == nil || !ok {
			continue
		}
		e, err := gitstore.DecodeFile(c.dst, c.want)
		if err != nil {
			return nil, err
		}
		t := e.Thin()
		want[c.key] = &t
		if _, seen := last[c.key]; !seen {
			todo = append(todo, c)
		}
		last[c.key] = c
	}
	for i, c := range todo {
		todo[i] = last[c.key]
	}
	if len(want) == 0 {
		return nil, nil
	}
	files, err := sv.readTenant(r.Store, r.Pipeline.Source)
	if err != nil {
		return nil, err
	}
	src := make([]gitstore.FileRef, 0, len(files))
	for _, f := range files {
		if e, ok := want[f.Entry.Key()]; ok {
			f = gitstore.FileRef{Path: f.Path, Entry: e}
		}
		src = append(src, f)
	}
	srcIdx := indexOf(src)
	out := map[spconfig.Key]bool{}
	const batch = 2048
	for lo := 0; lo < len(todo); lo += batch {
		part := todo[lo:min(lo+batch, len(todo))]
		in := make(map[spconfig.Key]bool, len(part))
		var refs []gitstore.FileRef
		for _, c := range part {
			e, err := gitstore.DecodeFile(c.dst, c.want)
			if err != nil {
				return nil, err
			}
			in[c.key] = true
			refs = append(refs, gitstore.FileRef{Path: c.dst, Entry: &e})
		}
		differ, err := r.compareRestricted(obs.files(), refs, obs.index(), srcIdx, func(k spconfig.Key) bool { return in[k] })
		if err != nil {
			return nil, err
		}
		for k := range in {
			out[k] = !differ[k]
		}
	}
	return out, nil
}

// candidates lists the target files the source asks for: every source file
// changed since offered, and every source object a mapping matches (so a
// changed mapping re-offers it), with what the target folder holds now.
func (r *Runner) candidates(tv, sv view, from, offered gitstore.Hash) ([]candidate, error) {
	p := r.Pipeline
	srcDir, dstDir := tenantDir(p.Source), tenantDir(p.Target)
	paths, err := sv.changedSince(r.Store, from, srcDir)
	if err != nil {
		return nil, fmt.Errorf("changes since %s: %w", short(from), err)
	}
	changedInSource := map[string]bool{}
	for _, path := range paths {
		changedInSource[path] = true
	}
	for _, t := range mappedTypes(p) {
		all, err := sv.changedSince(r.Store, gitstore.Hash{}, srcDir+gitstore.EncodeName(t)+"/")
		if err != nil {
			return nil, err
		}
		for _, path := range all {
			if !changedInSource[path] {
				paths = append(paths, path)
			}
		}
	}
	types := pipelineTypes(p)
	dsts := make([]string, len(paths))
	for i, path := range paths {
		dsts[i] = dstDir + strings.TrimPrefix(path, srcDir)
	}
	headSrc, err := sv.readFiles(r.Store, paths)
	if err != nil {
		return nil, err
	}
	var offeredSrc, fromSrc map[string][]byte
	if !offered.IsZero() {
		if offeredSrc, err = r.Store.ReadFiles(offered, paths); err != nil {
			return nil, err
		}
	}
	fromSrc = offeredSrc
	if from != offered && !from.IsZero() {
		if fromSrc, err = r.Store.ReadFiles(from, paths); err != nil {
			return nil, err
		}
	}
	curDst, err := tv.readFiles(r.Store, dsts)
	if err != nil {
		return nil, err
	}
	var out []candidate
	for i, path := range paths {
		want, key, err := r.promoted(path, headSrc)
		if err != nil {
			return nil, err
		}
		prev, prevKey, err := r.promoted(path, offeredSrc)
		if err != nil {
			return nil, err
		}
		if want == nil && key == nil {
			// Deleted in the source: the object's key is recorded in an
			// earlier version of the file, not in its name.
			key = prevKey
			if key == nil {
				if _, key, err = r.promoted(path, fromSrc); err != nil {
					return nil, err
				}
			}
		}
		if key == nil || !slices.Contains(types, key.Type) || excluded(p, *key) {
			continue // not an object file, not in scope, or excluded
		}
		reoffer := !changedInSource[path]
		if reoffer && !mapped(p, *key) {
			continue
		}
		out = append(out, candidate{dst: dsts[i], key: *key, want: want, cur: curDst[dsts[i]], prev: prev, reoffer: reoffer})
	}
	return out, nil
}

// planBaseline fills the proposal's baseline: live objects the pipeline
// starts managing that have no file in the target folder. For a type with no
// drift reference yet (the first promotion, a newly included type, a
// repository from before baselines) that is every live object of the type;
// otherwise the live objects a source change is about to write.
func (r *Runner) planBaseline(prop *proposal, tv view, cands []candidate, obs *observation, ref *reference) error {
	p := r.Pipeline
	var fresh []string
	for _, t := range pipelineTypes(p) {
		if !ref.has[t] {
			fresh = append(fresh, t)
		}
	}
	take := map[spconfig.Key]string{} // key -> path
	for _, c := range cands {
		if obs.live.has(c.key) && c.cur == nil && c.want != nil {
			take[c.key] = c.dst
		}
	}
	if len(fresh) > 0 {
		files, err := tv.readTenant(r.Store, p.Target)
		if err != nil {
			return fmt.Errorf("read %s: %w", tenantDir(p.Target), err)
		}
		has := map[spconfig.Key]bool{}
		taken := map[string]bool{}
		for _, f := range files {
			has[f.Entry.Key()] = true
			taken[f.Path] = true
		}
		pathOf, err := obs.paths(p.Target)
		if err != nil {
			return err
		}
		for _, f := range obs.files() {
			k := f.Entry.Key()
			path := pathOf[k]
			if has[k] || !slices.Contains(fresh, k.Type) {
				continue
			}
			if _, ok := take[k]; ok {
				continue
			}
			if taken[path] {
				r.log().Warn("baseline: a file of another object holds this name; the object stays out of the baseline", "object", k.String(), "path", path)
				continue
			}
			take[k] = path
		}
	}
	var keys []spconfig.Key
	for k := range take {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	var live []gitstore.FileRef
	for _, k := range keys {
		f, _ := obs.live.get(k)
		live = append(live, f)
	}
	// A baselined file is the observed file: the observed blob where the
	// repository holds it (a thin entry's file is its blob), so a first
	// promotion reads and holds none of the live objects' bytes (issue 18);
	// an object the repository holds no file of (a full entry) is encoded.
	for i, f := range live {
		c := gitstore.Change{Path: take[keys[i]]}
		if f.Entry.IsThin() && !f.Blob.IsZero() {
			c.Blob = f.Blob
		} else {
			c.Content = gitstore.EncodeFile(*f.Entry)
		}
		prop.baseline = append(prop.baseline, c)
		prop.baselined = append(prop.baselined, c.Path)
	}
	refTypes := slices.Clone(fresh)
	for _, f := range live {
		refTypes = append(refTypes, f.Entry.Type())
	}
	slices.Sort(refTypes)
	prop.refTypes = slices.Compact(refTypes)
	prop.firstRefFor = fresh
	if len(prop.refTypes) == 0 {
		return nil
	}
	// A type seen for the first time takes the whole live target as its
	// reference; another keeps its reference plus the baselined objects.
	var freshLive []gitstore.FileRef
	for _, f := range obs.files() {
		if slices.Contains(fresh, f.Entry.Type()) {
			freshLive = append(freshLive, f)
		}
	}
	prop.refObjects = referenceWith(ref, prop.refTypes, append(freshLive, live...))
	return nil
}

// commitProposal commits the baseline (with its drift reference) and the
// promotion. In pull-request mode the promotion goes to branch
// promoter/<pipeline>; the baseline always goes to the branch itself, since
// it only records what the target holds.
func (r *Runner) commitProposal(ctx context.Context, prop *proposal, head gitstore.Hash, obs *observation) error {
	p := r.Pipeline
	prop.head = head
	if len(prop.firstRefFor) > 0 {
		r.log().Info("baseline: no drift reference recorded yet for some types of this pipeline (first promotion, a newly included type, or a repository from before baselines); the live target becomes their reference",
			"pipeline", p.Name, "target", p.Target, "types", strings.Join(prop.firstRefFor, " "), "objects taken into "+tenantDir(p.Target), len(prop.baseline))
	}
	if len(prop.baseline) > 0 {
		c, err := r.Store.Commit(ctx, gitstore.CommitSpec{
			Message: fmt.Sprintf("Baseline of tenant %s (%s)", p.Target, obs.org) + "\n\n" +
				fmt.Sprintf("%d live object(s) of %s taken into %s unchanged before promoter changes them.\n\n", len(prop.baseline), p.Target, tenantDir(p.Target)) +
				summarizePaths(prop.baselined, tenantDir(p.Target)),
			Trailers: [][2]string{
				{"Promoter-Pipeline", p.Name},
				{"Promoter-Tenant", p.Target},
				{trailerBaseline, obs.job},
			},
			Changes: prop.baseline,
		})
		if err != nil {
			return fmt.Errorf("commit baseline of %s: %w", p.Target, err)
		}
		prop.baselineCommit = c
		if !c.IsZero() {
			prop.head = c
		}
	}
	if len(prop.refTypes) > 0 {
		if _, err := r.recordReference(ctx, obs, "baseline", prop.refTypes, prop.refObjects); err != nil {
			return err
		}
	}
	if len(prop.changes) == 0 && p.Mode == "pull-request" {
		// Nothing pending: no promotion branch to offer.
		if err := r.resetBranch(prBranch(p), prop.head); err != nil {
			return err
		}
	}
	if len(prop.changes) > 0 {
		spec := gitstore.CommitSpec{
			Message: fmt.Sprintf("Promote %d object(s) from %s to %s", len(prop.changes), p.Source, p.Target) + "\n\n" + summarizePaths(prop.changed, tenantDir(p.Target)),
			Trailers: [][2]string{
				{"Promoter-Pipeline", p.Name},
				{"Promoter-Source-Commit", prop.srcRev.String()},
				{"Promoter-Offered-From", hashOrNone(prop.from)},
			},
			Changes: prop.changes,
		}
		if p.Mode == "pull-request" {
			// The branch is rebuilt on the current tip every run: it holds
			// exactly the pending proposal.
			prop.branch = prBranch(p)
			if err := r.resetBranch(prop.branch, prop.head); err != nil {
				return err
			}
			spec.Branch, spec.Base = prop.branch, prop.head
		}
		c, err := r.Store.Commit(ctx, spec)
		if err != nil {
			return fmt.Errorf("commit promotion: %w", err)
		}
		prop.commit = c
		if !c.IsZero() {
			prop.head = c
		}
	}
	if len(prop.conflicts) == 0 && prop.offered != prop.srcRev && !prop.srcRev.IsZero() {
		// Advance offered only when everything was offered: a conflict stays
		// visible on every run until somebody resolves it. A source folder
		// the same as offered stays offered where it is: a run with nothing
		// changed writes no ref (the branch moves with every observation).
		same := false
		if !prop.offered.IsZero() {
			changed, err := r.Store.ChangedPaths(prop.offered, prop.srcRev, tenantDir(p.Source))
			if err != nil {
				return fmt.Errorf("advance offered: %w", err)
			}
			same = len(changed) == 0
		}
		if same {
			return nil
		}
		if err := r.Store.SetRef(offeredRef(p.Name), prop.srcRev, prop.offered); err != nil {
			return fmt.Errorf("advance offered: %w", err)
		}
	}
	return nil
}

// promoted returns what the target folder should hold for the source file at
// path, given the files of one revision: the file with mappings applied, or
// nil when the file does not exist there. key is nil for a file that is not an
// object file or does not exist.
func (r *Runner) promoted(path string, files map[string][]byte) ([]byte, *spconfig.Key, error) {
	data, ok := files[path]
	if !ok || !strings.HasSuffix(path, ".json") {
		return nil, nil, nil
	}
	e, err := gitstore.DecodeFile(path, data)
	if err != nil {
		return nil, nil, err
	}
	m, _, err := mapEntry(r.Pipeline, e)
	if err != nil {
		return nil, nil, err
	}
	k := e.Key()
	if len(r.Pipeline.Mappings) == 0 || bytes.Equal(m.Raw, e.Raw) {
		return data, &k, nil // unchanged bytes: keep the file exactly as exported
	}
	return gitstore.EncodeFile(m), &k, nil
}

// mappedTypes lists the types the pipeline's mappings name.
func mappedTypes(p *config.Pipeline) []string {
	var out []string
	for _, m := range p.Mappings {
		if m.Type != "" && !slices.Contains(out, m.Type) {
			out = append(out, m.Type)
		}
	}
	return out
}

// mapped reports whether a mapping of the pipeline matches the object.
func mapped(p *config.Pipeline, k spconfig.Key) bool {
	for _, m := range p.Mappings {
		if m.Matches(k.Type, k.Scope, k.Name) {
			return true
		}
	}
	return false
}

func compareKeys(a, b spconfig.Key) int {
	switch {
	case a == b:
		return 0
	case a.Less(b):
		return -1
	}
	return 1
}

func prBranch(p *config.Pipeline) string {
	prefix := p.PullRequest.BranchPrefix
	if prefix == "" {
		prefix = "promoter/"
	}
	return prefix + p.Name
}

func summarizePaths(paths []string, dir string) string {
	var b strings.Builder
	for i, p := range paths {
		if i == 50 {
			fmt.Fprintf(&b, "... and %d more\n", len(paths)-50)
			break
		}
		b.WriteString("- " + strings.TrimPrefix(p, dir) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func short(h gitstore.Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.String()[:12]
}

func hashOrNone(h gitstore.Hash) string {
	if h.IsZero() {
		return "none"
	}
	return h.String()
}
