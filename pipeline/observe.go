package pipeline

import (
	"bytes"
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
type observation struct {
	job    string
	org    string // the export's tenant (org name)
	live   map[spconfig.Key]spconfig.Entry
	excl   []spconfig.Key          // live objects of the scope's types that the pipeline excludes
	commit gitstore.Hash           // the observation commit written for it (zero when nothing changed or not written)
	idx    *diff.Index             // id index of live, built on first use by a comparison
	pathOf map[spconfig.Key]string // file of each live object in the target folder, named on first use
	sorted []spconfig.Entry        // live sorted by key, on first use (entries)
	order  []spconfig.Entry        // live in the export's order (until entries sorts it)
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
		o.idx = diff.NewIndex(o.entries())
	}
	return o.idx
}

// entries returns the observed objects sorted by key, sorted once per
// observation (live must not change once it is used); callers must not
// modify the slice.
func (o *observation) entries() []spconfig.Entry {
	if o.sorted == nil {
		if len(o.order) == len(o.live) { // no key twice: order holds live
			o.sorted, o.order = o.order, nil // the export's order is often sorted already
		} else {
			o.sorted, o.order = valuesOf(o.live), nil
		}
		spconfig.SortEntries(o.sorted)
	}
	return o.sorted
}

// observe exports the target's objects of the pipeline's types (sanitized
// like a snapshot, excluded objects set aside). With write set, the export is
// recorded on the observed ref when anything changed since the last
// observation.
func (r *Runner) observe(ctx context.Context, why string, write bool) (*observation, error) {
	p := r.Pipeline
	types := pipelineTypes(p)
	obs := &observation{live: make(map[spconfig.Key]spconfig.Entry, len(r.lastLive))}
	prev := r.lastLive
	payload := spconfig.ExportPayload{Description: "promoter " + p.Name + " " + why, IncludeTypes: types}
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
		if old, ok := prev[e.Key()]; ok && bytes.Equal(old.Raw, e.Raw) {
			e = old // the same entry (an Entry is a function of its bytes)
		}
		obs.live[e.Key()] = e
		obs.order = append(obs.order, e)
		return nil
	})
	if err == nil {
		r.lastLive = obs.live
	}
	obs.job, obs.org = job.JobID, h.Tenant
	if err != nil {
		return obs, fmt.Errorf("export target %s: %w", p.Target, err)
	}
	if write {
		c, err := r.Store.WriteTenant(ctx, p.Target, types, obs.entries(), r.observationSpec(obs, why, nil))
		if err != nil {
			return obs, fmt.Errorf("record observation of %s: %w", p.Target, err)
		}
		obs.commit = c
	}
	return obs, nil
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

// reference is the drift reference of the pipeline's types.
type reference struct {
	objects map[spconfig.Key]spconfig.Entry
	has     map[string]bool // types that have a reference
	idx     *diff.Index     // id index of objects, built on first use
}

// index is the id index of the reference's objects.
func (ref *reference) index() *diff.Index {
	if ref.idx == nil {
		ref.idx = diff.NewIndex(valuesOf(ref.objects))
	}
	return ref.idx
}

// reference reads the drift reference of every pipeline type: for each, the
// newest observation that is marked as its reference.
func (r *Runner) reference() (*reference, error) {
	p := r.Pipeline
	ref := &reference{objects: map[spconfig.Key]spconfig.Entry{}, has: map[string]bool{}}
	want := map[string]bool{}
	for _, t := range pipelineTypes(p) {
		want[t] = true
	}
	h, err := r.Store.Ref(observedRef(p.Target))
	if err != nil || h.IsZero() {
		return ref, err
	}
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
				ref.objects[k] = f.Entry
			}
		}
	}
	return ref, nil
}

// recordReference makes the observed ref's folders of types hold objects and
// marks that observation as their drift reference.
func (r *Runner) recordReference(ctx context.Context, obs *observation, why string, types []string, objects []spconfig.Entry) (gitstore.Hash, error) {
	if len(types) == 0 {
		return gitstore.Hash{}, nil
	}
	slices.Sort(types)
	types = slices.Compact(types)
	spconfig.SortEntries(objects)
	c, err := r.Store.WriteTenant(ctx, r.Pipeline.Target, types, objects, r.observationSpec(obs, why, types))
	if err != nil {
		return c, fmt.Errorf("record the %s reference of %s: %w", why, r.Pipeline.Target, err)
	}
	return c, nil
}

// referenceWith is the reference of types with some objects replaced by
// their live version (baseline, adoption).
func referenceWith(ref *reference, types []string, live []spconfig.Entry) []spconfig.Entry {
	in := map[string]bool{}
	for _, t := range types {
		in[t] = true
	}
	byKey := map[spconfig.Key]spconfig.Entry{}
	for k, e := range ref.objects {
		if in[k.Type] {
			byKey[k] = e
		}
	}
	for _, e := range live {
		byKey[e.Key()] = e
	}
	return valuesOf(byKey)
}

// drifted reports the objects among keys whose live version differs from
// their reference (or that are gone from the target since): they changed
// outside promoter. Objects without a reference never drift.
func drifted(ref *reference, obs *observation, keys map[spconfig.Key]bool) (map[spconfig.Key]string, error) {
	live := obs.live
	out := map[spconfig.Key]string{}
	compared := 0
	for k := range keys {
		if _, ok := ref.objects[k]; !ok {
			continue
		}
		if _, inLive := live[k]; !inLive {
			out[k] = "deleted in the target outside promoter since the last import, adoption or baseline"
			continue
		}
		compared++
	}
	if compared == 0 {
		return out, nil
	}
	d, err := compareRestricted(valuesOf(ref.objects), obs.entries(), ref.index(), obs.index(), func(k spconfig.Key) bool { _, ok := ref.objects[k]; return ok && keys[k] })
	if err != nil {
		return nil, err
	}
	for k := range d {
		out[k] = "changed in the target outside promoter since the last import, adoption or baseline"
	}
	return out, nil
}
