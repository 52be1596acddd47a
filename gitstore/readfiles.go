package gitstore

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// ReadFiles returns the bytes of the given repository-relative paths at rev,
// walking each tree once (ReadFile per path re-reads the trees on the way to
// every file). Paths that do not exist at rev are absent from the map.
func (r *Repo) ReadFiles(rev Hash, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	if rev.IsZero() || len(paths) == 0 {
		return out, nil
	}
	r.refresh()
	root, err := r.rootTree(rev)
	if err != nil {
		return nil, err
	}
	// Group the wanted files by folder so each folder's tree is read once.
	byDir := map[string][]string{}
	for _, p := range paths {
		p = strings.Trim(p, "/")
		dir, name := "", p
		if i := strings.LastIndex(p, "/"); i >= 0 {
			dir, name = p[:i], p[i+1:]
		}
		byDir[dir] = append(byDir[dir], name)
	}
	for dir, names := range byDir {
		treeHash := root
		if dir != "" {
			te, ok, err := r.lookup(root, dir)
			if err != nil {
				return nil, err
			}
			if !ok || te.Mode != filemode.Dir {
				continue
			}
			treeHash = Hash(te.Hash)
		}
		ents, err := r.treeEntries(treeHash)
		if err != nil {
			return nil, err
		}
		want := make(map[string]bool, len(names))
		for _, n := range names {
			want[n] = true
		}
		for _, e := range ents {
			if !want[e.Name] || !e.Mode.IsFile() {
				continue
			}
			full := e.Name
			if dir != "" {
				full = dir + "/" + e.Name
			}
			data, err := r.blob(Hash(e.Hash))
			if err != nil {
				return nil, fmt.Errorf("read %s at %s: %w", full, short(rev), err)
			}
			out[full] = data
		}
	}
	return out, nil
}
