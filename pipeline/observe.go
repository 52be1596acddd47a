package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
)

// Observed state (DESIGN section 4): refs/promoter/observed/<target> is a
// history of live exports of the target in the target folder's layout. Some
// of its commits are the drift reference of some types (trailer
// Promoter-Reference lists them): the target as the last import (verify),
// adoption or baseline left it. A target object that differs from its
// reference changed outside promoter: that is drift, for every type.

const (
	trailerReference   = "Promoter-Reference"   // types whose folders in this observation are the drift reference
	trailerObservation = "Promoter-Observation" // why it was taken: plan, verify, baseline, adopt
	trailerBaseline    = "Promoter-Baseline"    // on a baseline commit of the branch: the live export job
	trailerAdopt       = "Promoter-Adopt"       // on an adoption commit: the live export job

	// referenceWalkLimit bounds the search for a type's reference in the
	// observation history.
	referenceWalkLimit = 10000
)

func observedRef(target string) string { return "refs/promoter/observed/" + target }

// observation is one live export of the pipeline's scope in the target.
// Its objects are files of the observed ref (gitstore.FileRef with the blob id
// of each object's file): a thin entry where the repository holds the blob,
// so a run keeps no copy of the live target's bytes and reads back only the
// objects it compares (issue 18); a full entry where it does not (an
// observation that is not recorded).
type observation struct {
	job    string
	org    string                  // the export's tenant (org name)
	live   folder                  // sorted by key
	excl   []spconfig.Key          // live objects of the scope's types that the pipeline excludes
	commit gitstore.Hash           // the observation commit written for it (zero when nothing changed or not written)
	idx    *diff.Index             // id index of live, built on first use by a comparison
	pathOf map[spconfig.Key]string // file of each live object in the target folder, named on first use
}

// paths names the file each live object has in the target folder: the
// names a full export of the target gets (gitstore.FileNames over all of
// it, so suffixes of colliding names come out as in an export). Computed
// once per observation.
func (o *observation) paths(target string) (map[spconfig.Key]string, error) {
	if o.pathOf != nil {
		return o.pathOf, nil
	}
	all := o.entries()
	names, err := gitstore.FileNames(all)
	if err != nil {
		return nil, fmt.Errorf("name the files of %s: %w", target, err)
	}
	o.pathOf = make(map[spconfig.Key]string, len(all))
	for i, e := range all {
		o.pathOf[e.Key()] = tenantDir(target) + names[i]
	}
	return o.pathOf, nil
}

// index is the id index of the live objects, shared by the plan's
// comparisons (live must not change once it is used).
func (o *observation) index() *diff.Index {
	if o.idx == nil {
		o.idx = indexOf(o.live.files)
	}
	return o.idx
}

// files returns the observed objects sorted by key; callers must not modify
// the slice.
func (o *observation) files() []gitstore.FileRef { return o.live.files }

// entries returns the entries of files (thin or full).
func (o *observation) entries() []spconfig.Entry { return entriesOf(o.live.files) }

// liveEntry returns the live object of k with its bytes (read from the
// repository when its entry is thin).
func (r *Runner) liveEntry(o *observation, k spconfig.Key) (spconfig.Entry, bool, error) {
	f, ok := o.live.get(k)
	if !ok {
		return spconfig.Entry{}, false, nil
	}
	es, err := r.load([]gitstore.FileRef{f})
	if err != nil {
		return spconfig.Entry{}, false, err
	}
	return es[0], true, nil
}

// observe exports the target's objects of the pipeline's types (sanitized
// like a snapshot, excluded objects set aside), comparing each with the
// observed ref's file as it arrives. With write set, the export is recorded
// on the observed ref when anything changed since the last observation;
// refTypes, when set, makes the recorded observation the drift reference of
// those types (committed even when nothing changed; write is implied).
//
// The export reads the observed ref as entries arrive: nothing else may read
// the repository meanwhile.
func (r *Runner) observe(ctx context.Context, why string, write bool, refTypes ...string) (*observation, error) {
	p := r.Pipeline
	types := pipelineTypes(p)
	write = write || len(refTypes) > 0
	obs := &observation{}
	sn, err := r.Store.NewSnapshot(p.Target, types, gitstore.CommitSpec{Branch: observedRef(p.Target)})
	if err != nil {
		return obs, err
	}
	sn.Remember = true
	files := make([]gitstore.FileRef, 0, sn.SizeHint())
	payload := spconfig.ExportPayload{Description: "promoter " + p.Name + " " + why, IncludeTypes: types}
	var recordErr error
	// Each entry is compared with the observed ref's file (encoded and
	// hashed) on a goroutine of its own, beside the download and decode,
	// as the snapshot of the source is (issue 18).
	adds, added := make(chan spconfig.Entry, 256), make(chan struct{})
	go func() {
		defer close(added)
		for e := range adds {
			var f gitstore.FileRef
			if recordErr == nil {
				ref, st, err := sn.AddBlob(e)
				if err != nil {
					recordErr = err
				}
				// the thin entry, shared with the decode cache, where the
				// repository holds (or the commit writes) the file
				if f.Blob = ref.Blob; ref.Entry != nil && (st == gitstore.BlobStored || (st == gitstore.BlobWritten && write)) {
					f.Entry = ref.Entry
				}
			}
			if f.Entry == nil { // the full entry (a copy: e stays on the stack)
				full := e
				f.Entry = &full
			}
			files = append(files, f)
		}
	}()
	job, h, err := r.Target.Export(ctx, payload, r.waitOptions(), func(_ int, e spconfig.Entry) error {
		// Strip the same fields the snapshot strips, so they never show as changes.
		e, err := sanitize(p, e)
		if err != nil {
			return err
		}
		if !slices.Contains(types, e.Type()) {
			return nil
		}
		if excluded(p, e.Key()) {
			obs.excl = append(obs.excl, e.Key())
			return nil
		}
		adds <- e
		return nil
	})
	close(adds)
	<-added
	obs.job, obs.org = job.JobID, h.Tenant
	if err != nil {
		return obs, fmt.Errorf("export target %s: %w", p.Target, err)
	}
	if recordErr != nil {
		return obs, fmt.Errorf("record observation of %s: %w", p.Target, recordErr)
	}
	obs.setFiles(files)
	if !write {
		return obs, nil
	}
	sn.SetSpec(r.observationSpec(obs, why, refTypes))
	c, err := sn.Commit(ctx)
	if err != nil {
		if len(refTypes) > 0 {
			return obs, fmt.Errorf("record the %s reference of %s: %w", why, p.Target, err)
		}
		return obs, fmt.Errorf("record observation of %s: %w", p.Target, err)
	}
	obs.commit = c
	return obs, nil
}

// setFiles sorts the observed files by key (the last of a key the export
// repeats wins). Their paths stay empty (paths names them; load names an
// object it reads by its key).
func (o *observation) setFiles(files []gitstore.FileRef) {
	byKey := func(a, b gitstore.FileRef) int { return compareKeys(a.Entry.Key(), b.Entry.Key()) }
	if !slices.IsSortedFunc(files, byKey) { // an export is often in key order already
		slices.SortStableFunc(files, byKey)
	}
	o.live = newFolder(lastOfEach(files))
}

// observationSpec is the commit of an observation; refTypes, when set, makes
// it the drift reference of those types (committed even when the tree is
// unchanged).
func (r *Runner) observationSpec(obs *observation, why string, refTypes []string) gitstore.CommitSpec {
	p := r.Pipeline
	s := gitstore.CommitSpec{
		Branch:  observedRef(p.Target),
		Message: fmt.Sprintf("Observation of tenant %s (%s) by %s", p.Target, obs.org, why),
		Trailers: [][2]string{
			{"Promoter-Pipeline", p.Name},
			{"Promoter-Tenant", p.Target},
			{"Promoter-Export-Job", obs.job},
			{trailerObservation, why},
		},
	}
	if len(refTypes) > 0 {
		s.Trailers = append(s.Trailers, [2]string{trailerReference, strings.Join(refTypes, " ")})
		s.AllowEmpty = true
	}
	return s
}

// reference is the drift reference of the pipeline's types: files of
// observation commits, with thin entries.
type reference struct {
	objects folder          // sorted by key
	has     map[string]bool // types that have a reference
	idx     *diff.Index     // id index of objects, built on first use
}

// index is the id index of the reference's objects.
func (ref *reference) index() *diff.Index {
	if ref.idx == nil {
		ref.idx = indexOf(ref.objects.files)
	}
	return ref.idx
}

// reference reads the drift reference of every pipeline type: for each, the
// newest observation that is marked as its reference.
func (r *Runner) reference() (*reference, error) {
	p := r.Pipeline
	ref := &reference{has: map[string]bool{}}
	want := map[string]bool{}
	for _, t := range pipelineTypes(p) {
		want[t] = true
	}
	h, err := r.Store.Ref(observedRef(p.Target))
	if err != nil || h.IsZero() {
		return ref, err
	}
	var objects []gitstore.FileRef
	at := map[gitstore.Hash][]string{}
	var order []gitstore.Hash
	for i := 0; i < referenceWalkLimit && !h.IsZero() && len(ref.has) < len(want); i++ {
		ci, err := r.Store.CommitInfo(h)
		if err != nil {
			return nil, fmt.Errorf("read observations of %s: %w", p.Target, err)
		}
		for _, t := range strings.Fields(ci.Trailers[trailerReference]) {
			if want[t] && !ref.has[t] {
				ref.has[t] = true
				if at[h] == nil {
					order = append(order, h)
				}
				at[h] = append(at[h], t)
			}
		}
		if len(ci.Parents) == 0 {
			break
		}
		h = ci.Parents[0]
	}
	for _, c := range order {
		files, err := commitView(c).readTenant(r.Store, p.Target)
		if err != nil {
			return nil, fmt.Errorf("read observation %s of %s: %w", short(c), p.Target, err)
		}
		for _, f := range files {
			if k := f.Entry.Key(); slices.Contains(at[c], k.Type) && !excluded(p, k) {
				objects = append(objects, f)
			}
		}
	}
	// each type is read from one commit; of a key two files of it hold,
	// the one with the greater path
	sortFiles(objects)
	ref.objects = newFolder(lastOfEach(objects))
	return ref, nil
}

// recordReference makes the observed ref's folders of types hold objects and
// marks that observation as their drift reference.
func (r *Runner) recordReference(ctx context.Context, obs *observation, why string, types []string, objects []gitstore.FileRef) (gitstore.Hash, error) {
	if len(types) == 0 {
		return gitstore.Hash{}, nil
	}
	slices.Sort(types)
	types = slices.Compact(types)
	sortFiles(objects)
	c, err := r.Store.WriteTenantFiles(ctx, r.Pipeline.Target, types, objects, r.observationSpec(obs, why, types))
	if err != nil {
		return c, fmt.Errorf("record the %s reference of %s: %w", why, r.Pipeline.Target, err)
	}
	return c, nil
}

// referenceWith is the reference of types with some objects replaced by
// their live version (baseline, adoption).
func referenceWith(ref *reference, types []string, live []gitstore.FileRef) []gitstore.FileRef {
	in := map[string]bool{}
	for _, t := range types {
		in[t] = true
	}
	byKey := map[spconfig.Key]gitstore.FileRef{}
	for _, f := range ref.objects.files {
		if k := f.Entry.Key(); in[k.Type] {
			byKey[k] = f
		}
	}
	for _, f := range live {
		byKey[f.Entry.Key()] = f
	}
	return filesOf(byKey)
}

// drifted reports the objects among keys whose live version differs from
// their reference (or that are gone from the target since): they changed
// outside promoter. Objects without a reference never drift.
func (r *Runner) drifted(ref *reference, obs *observation, keys map[spconfig.Key]bool) (map[spconfig.Key]string, error) {
	out := map[spconfig.Key]string{}
	compared := 0
	for k := range keys {
		if !ref.objects.has(k) {
			continue
		}
		if !obs.live.has(k) {
			out[k] = "deleted in the target outside promoter since the last import, adoption or baseline"
			continue
		}
		compared++
	}
	if compared == 0 {
		return out, nil
	}
	d, err := r.compareRestricted(ref.objects.files, obs.files(), ref.index(), obs.index(), func(k spconfig.Key) bool { return keys[k] && ref.objects.has(k) })
	if err != nil {
		return nil, err
	}
	for k := range d {
		out[k] = "changed in the target outside promoter since the last import, adoption or baseline"
	}
	return out, nil
}
