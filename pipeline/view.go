package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"promoter/gitstore"
	"promoter/spconfig"
)

// view is a commit of the repository with uncommitted changes laid over it.
// A run commits every step and reads the new commit with no overlay; a dry
// run (plan without --rev, run --dry-run) keeps each step's changes in the
// overlay instead, so it shows what the next run would do and writes nothing.
type view struct {
	rev  gitstore.Hash
	over map[string][]byte // path -> content; nil content deletes the file
}

func commitView(h gitstore.Hash) view { return view{rev: h} }

// with returns the view with changes laid over it; the bytes of a change
// that names a blob are read from s (an overlay holds bytes).
func (v view) with(s Store, changes []gitstore.Change) (view, error) {
	if len(changes) == 0 {
		return v, nil
	}
	over := maps.Clone(v.over)
	if over == nil {
		over = map[string][]byte{}
	}
	for _, c := range changes {
		data := c.Content
		if data == nil && !c.Blob.IsZero() {
			var err error
			if data, err = s.ReadBlob(c.Blob); err != nil {
				return v, fmt.Errorf("read %s: %w", c.Path, err)
			}
		}
		over[c.Path] = data
	}
	return view{rev: v.rev, over: over}, nil
}

// empty reports whether the view holds nothing at all (a fresh repository).
func (v view) empty() bool { return v.rev.IsZero() && len(v.over) == 0 }

// readFiles reads paths through the overlay; missing files are left out.
func (v view) readFiles(s Store, paths []string) (map[string][]byte, error) {
	var fromRev []string
	for _, p := range paths {
		if _, ok := v.over[p]; !ok {
			fromRev = append(fromRev, p)
		}
	}
	out := map[string][]byte{}
	if len(fromRev) > 0 && !v.rev.IsZero() {
		got, err := s.ReadFiles(v.rev, fromRev)
		if err != nil {
			return nil, err
		}
		out = got
	}
	for _, p := range paths {
		if data, ok := v.over[p]; ok && data != nil {
			out[p] = data
		}
	}
	return out, nil
}

// changedSince lists the files under prefix that differ between commit from
// and the view, sorted. Overlay paths are listed when they differ from the
// file at from.
func (v view) changedSince(s Store, from gitstore.Hash, prefix string) ([]string, error) {
	var paths []string
	if !v.rev.IsZero() || !from.IsZero() {
		got, err := s.ChangedPaths(from, v.rev, prefix)
		if err != nil {
			return nil, err
		}
		paths = got
	}
	if len(v.over) == 0 {
		return paths, nil
	}
	set := map[string]bool{}
	for _, p := range paths {
		set[p] = true
	}
	var cand []string
	for p := range v.over {
		if strings.HasPrefix(p, prefix) {
			cand = append(cand, p)
		}
	}
	old := map[string][]byte{}
	if !from.IsZero() && len(cand) > 0 {
		got, err := s.ReadFiles(from, cand)
		if err != nil {
			return nil, err
		}
		old = got
	}
	for _, p := range cand {
		data := v.over[p]
		prev, had := old[p]
		set[p] = data == nil && had || data != nil && (!had || string(prev) != string(data))
	}
	out := make([]string, 0, len(set))
	for p, ok := range set {
		if ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// readThin returns the thin (or, from the overlay, full) entries of the
// object files of a tenant folder through the overlay, and the files of
// those want accepts (Store.ReadTenantThin).
func (v view) readThin(s Store, tenant string, want func(*spconfig.Entry) bool) ([]*spconfig.Entry, []gitstore.FileRef, error) {
	if len(v.over) == 0 {
		if v.rev.IsZero() {
			return nil, nil, nil
		}
		return s.ReadTenantThin(v.rev, tenant, want)
	}
	files, err := v.readTenant(s, tenant)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*spconfig.Entry, len(files))
	var some []gitstore.FileRef
	for i, f := range files {
		out[i] = f.Entry
		if want != nil && want(f.Entry) {
			some = append(some, f)
		}
	}
	return out, some, nil
}

// readTenant returns the object files of a tenant folder through the
// overlay by reference: files of the commit have thin entries and blob ids
// (Store.Load reads them), overlay files full entries.
func (v view) readTenant(s Store, tenant string) ([]gitstore.FileRef, error) {
	var files []gitstore.FileRef
	if !v.rev.IsZero() {
		got, err := s.ReadTenantEntries(v.rev, tenant)
		if err != nil {
			return nil, err
		}
		files = got
	}
	if len(v.over) == 0 {
		return files, nil
	}
	dir := tenantDir(tenant)
	out := files[:0:0]
	for _, f := range files {
		if _, ok := v.over[f.Path]; !ok {
			out = append(out, f)
		}
	}
	for p, data := range v.over {
		if data == nil || !strings.HasPrefix(p, dir) || !strings.HasSuffix(p, ".json") {
			continue
		}
		e, err := gitstore.DecodeFile(p, data)
		if err != nil {
			return nil, err
		}
		out = append(out, gitstore.FileRef{Path: p, Entry: &e}) // a full entry; no blob in the repository
	}
	slices.SortFunc(out, func(a, b gitstore.FileRef) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}
