package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
)

// The sets a flow compares (desired state, applied state, drift reference,
// live target, source folders) are files of commits by reference:
// gitstore.FileRef with the blob id of each file and its thin entry (self,
// key, id claims; no bytes), which the repository's decode cache shares
// among every set that holds the blob. A run holds tens of thousands of them
// without their bytes and reads back only the objects a comparison cannot
// settle by blob id, and those it sends or shows (issue 18).

// entriesOf returns the entries of files, in order.
func entriesOf(files []gitstore.FileRef) []spconfig.Entry {
	out := make([]spconfig.Entry, len(files))
	for i, f := range files {
		out[i] = *f.Entry
	}
	return out
}

// indexOf is the (lazy) id index of files over the indexes under it (the
// source folders a target folder's ids resolve through, indexed once for
// all the sets that resolve through them): diff.NewIndexOf, no copy of the
// entries.
func indexOf(files []gitstore.FileRef, under ...*diff.Index) *diff.Index {
	return diff.NewIndexOf(len(files), func(yield func(*spconfig.Entry) bool) {
		for i := range files {
			if !yield(files[i].Entry) {
				return
			}
		}
	}, under...)
}

// entriesIndex is the (lazy) id index of entries over the indexes under it.
func entriesIndex(es []*spconfig.Entry, under ...*diff.Index) *diff.Index {
	return diff.NewIndexOf(len(es), func(yield func(*spconfig.Entry) bool) {
		for _, e := range es {
			if !yield(e) {
				return
			}
		}
	}, under...)
}

// filesOf returns the files of a set, sorted by key.
func filesOf(m map[spconfig.Key]gitstore.FileRef) []gitstore.FileRef {
	out := make([]gitstore.FileRef, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	sortFiles(out)
	return out
}

// sortFiles sorts files by key, then path.
func sortFiles(fs []gitstore.FileRef) {
	slices.SortFunc(fs, func(a, b gitstore.FileRef) int {
		if c := compareKeys(a.Entry.Key(), b.Entry.Key()); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
}

// loadFiles reads files (a thin entry's from the repository by blob id).
func (r *Runner) loadFiles(files []gitstore.FileRef) ([]gitstore.File, error) {
	refs := slices.Clone(files)
	for i := range refs {
		if refs[i].Path == "" { // an observed object: named by its key
			refs[i].Path = "the observation of " + refs[i].Entry.Key().String()
		}
	}
	return r.Store.Load(refs)
}

// load reads files: their full entries, in order.
func (r *Runner) load(files []gitstore.FileRef) ([]spconfig.Entry, error) {
	got, err := r.loadFiles(files)
	if err != nil {
		return nil, err
	}
	out := make([]spconfig.Entry, len(got))
	for i, f := range got {
		out[i] = f.Entry
	}
	return out, nil
}

// sameFile reports whether two files certainly hold the same bytes: the same
// blob, or two full entries with equal bytes.
func sameFile(a, b gitstore.FileRef) bool {
	if !a.Blob.IsZero() && a.Blob == b.Blob {
		return true
	}
	return !a.Entry.IsThin() && !b.Entry.IsThin() && string(a.Entry.Raw) == string(b.Entry.Raw)
}

// compareBatch is how many files compareFiles reads and compares at a time.
var compareBatch = 512

// compareFiles is diff.Compare of two sets of files (cross-tenant, ids
// resolved through the indexes of the whole sets: o.SharedOld and
// o.SharedNew, made from the sets when unset; o.IndexOld and o.IndexNew are
// not used: a side that resolves ids through more files gives its index). A
// key that each side holds once in the same bytes is unchanged without
// being read; the other objects the comparison accepts are read and
// compared. The result is the one diff.Compare gives for the full sets.
func (r *Runner) compareFiles(old, new []gitstore.FileRef, o diff.Options) (diff.Result, error) {
	if !o.CrossTenant {
		return diff.Result{}, fmt.Errorf("compare files: only a cross-tenant comparison reads by blob")
	}
	if o.IndexOld != nil || o.IndexNew != nil {
		return diff.Result{}, fmt.Errorf("compare files: give the index of a side with more files as SharedOld or SharedNew")
	}
	if o.SharedOld == nil {
		o.SharedOld = indexOf(old)
	}
	if o.SharedNew == nil {
		o.SharedNew = indexOf(new)
	}
	if o.Restrict != nil { // a restricted comparison looks at the few files it compares
		keep := func(fs []gitstore.FileRef) []gitstore.FileRef {
			var out []gitstore.FileRef
			for _, f := range fs {
				if o.Restrict(f.Entry.Key()) {
					out = append(out, f)
				}
			}
			return out
		}
		old, new = keep(old), keep(new)
	}
	oldAt, newAt := onceIndex(old), onceIndex(new)
	unchanged := map[string]int{}
	settled := make([]bool, len(new))
	var a, b []gitstore.FileRef
	for _, f := range old {
		k := f.Entry.Key()
		if j, ok := newAt.find(new, k); ok && oldAt.once(k) && !o.IncludeUnchanged && sameFile(f, new[j]) {
			settled[j] = true
			unchanged[k.Type]++
			continue
		}
		a = append(a, f)
	}
	for j, f := range new {
		if !settled[j] {
			b = append(b, f)
		}
	}
	// The files left are read and compared a batch of keys at a time, in key
	// order: with the indexes of the whole sets given, each key compares on
	// its own, and a first promotion compares every object (issue 18: at
	// 50,000 objects reading both sides at once held 125 MB).
	sortFiles(a)
	sortFiles(b)
	o.Restrict = nil
	var res diff.Result
	for i, j := 0, 0; i < len(a) || j < len(b); {
		// the batch ends at a key boundary after compareBatch files
		ei, ej := i, j
		for ei < len(a) || ej < len(b) {
			var k spconfig.Key
			switch {
			case ej == len(b) || ei < len(a) && a[ei].Entry.Key().Less(b[ej].Entry.Key()):
				k = a[ei].Entry.Key()
			default:
				k = b[ej].Entry.Key()
			}
			if (ei-i)+(ej-j) >= compareBatch {
				break
			}
			for ei < len(a) && a[ei].Entry.Key() == k {
				ei++
			}
			for ej < len(b) && b[ej].Entry.Key() == k {
				ej++
			}
		}
		ea, err := r.load(a[i:ei])
		if err != nil {
			return diff.Result{}, err
		}
		eb, err := r.load(b[j:ej])
		if err != nil {
			return diff.Result{}, err
		}
		part, err := diff.Compare(ea, eb, o)
		if err != nil {
			return part, err
		}
		res.Changes = append(res.Changes, part.Changes...)
		for t, n := range part.UnchangedCounts {
			unchanged[t] += n
		}
		i, j = ei, ej
	}
	if len(unchanged) > 0 {
		if res.UnchangedCounts == nil {
			res.UnchangedCounts = map[string]int{}
		}
		for t, n := range unchanged {
			res.UnchangedCounts[t] += n
		}
	}
	return res, nil
}

// compareRestricted lists the keys, among those keep accepts, where two
// sets of files differ (ids translate through the whole sets; ai and bi,
// when set, are their indexes).
func (r *Runner) compareRestricted(a, b []gitstore.FileRef, ai, bi *diff.Index, keep func(spconfig.Key) bool) (map[spconfig.Key]bool, error) {
	d, err := r.compareFiles(a, b, diff.Options{CrossTenant: true, Restrict: keep, SharedOld: ai, SharedNew: bi})
	if err != nil {
		return nil, err
	}
	return changedKeys(d), nil
}
