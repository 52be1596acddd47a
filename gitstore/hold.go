package gitstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// CommitRef commits changes on a bookkeeping ref under refs/promoter/ (for
// example refs/promoter/hold/<pipeline>): a history of its own, not a branch,
// so no working tree is touched. The parent is the ref's current tip; the ref
// moves with a compare-and-swap and is pushed by Push and fetched by Sync
// like every refs/promoter/* ref. It returns the zero Hash when the changes
// change nothing.
func (r *Repo) CommitRef(ctx context.Context, ref, message string, changes []Change) (Hash, error) {
	if !strings.HasPrefix(ref, "refs/promoter/") {
		return Hash{}, fmt.Errorf("commit on %s: only refs under refs/promoter/ may be written this way", ref)
	}
	if err := plumbing.ReferenceName(ref).Validate(); err != nil {
		return Hash{}, fmt.Errorf("commit on %s: %w", ref, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh()
	return r.commitRef(ctx, ref, Hash{}, false, message, changes, false)
}

// Refs returns the local refs whose names start with prefix, by name.
func (r *Repo) Refs(prefix string) (map[string]Hash, error) {
	iter, err := r.st.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs %s*: %w", prefix, err)
	}
	out := map[string]Hash{}
	err = iter.ForEach(func(x *plumbing.Reference) error {
		n := x.Name().String()
		if x.Type() == plumbing.HashReference && strings.HasPrefix(n, prefix) {
			out[n] = Hash(x.Hash())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs %s*: %w", prefix, err)
	}
	return out, nil
}
