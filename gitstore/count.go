package gitstore

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// CountTenant returns the number of object files (*.json) per type folder
// under tenants/<tenant>/ at rev, reading only trees, never file contents:
// what a guard needs to compare an export with the last snapshot. The keys
// are folder names, which are the type names for every type.
func (r *Repo) CountTenant(rev Hash, tenant string) (map[string]int, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, fmt.Errorf("count tenant: %w", err)
	}
	out := map[string]int{}
	if rev.IsZero() {
		return out, nil
	}
	r.refresh()
	root, err := r.rootTree(rev)
	if err != nil {
		return nil, err
	}
	te, ok, err := r.lookup(root, TenantDir(tenant))
	if err != nil || !ok || te.Mode != filemode.Dir {
		return out, err
	}
	types, err := r.treeEntries(Hash(te.Hash))
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if t.Mode != filemode.Dir {
			continue
		}
		ents, err := r.treeEntries(Hash(t.Hash))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Mode.IsFile() && strings.HasSuffix(e.Name, ".json") {
				out[t.Name]++
			}
		}
	}
	return out, nil
}
