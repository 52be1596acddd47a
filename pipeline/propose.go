package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"promoter/gitstore"
	"promoter/spconfig"
)

// Conflict is a target file edited since promoter last wrote it while the
// source changed the same object: it is not overwritten and blocks the run.
type Conflict struct {
	Path   string `json:"path"`
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// proposal is the outcome of the propose step.
type proposal struct {
	commit    gitstore.Hash // commit that changed the target folder; zero if none
	head      gitstore.Hash // tip to plan against (branch tip in pull-request mode)
	branch    string
	changed   []string
	conflicts []Conflict
	mapped    []string
}

// propose copies what changed in the source folder since the offered commit
// into the target folder (mappings applied) and commits it. In pull-request
// mode the commit goes to branch promoter/<pipeline> instead of the main branch.
func (r *Runner) propose(ctx context.Context, head gitstore.Hash) (*proposal, error) {
	p := r.Pipeline
	offered, err := r.Store.Ref(offeredRef(p.Name))
	if err != nil {
		return nil, err
	}
	prop := &proposal{head: head}
	if head.IsZero() {
		return prop, nil
	}
	srcDir, dstDir := tenantDir(p.Source), tenantDir(p.Target)
	paths, err := r.Store.ChangedPaths(offered, head, srcDir)
	if err != nil {
		return nil, fmt.Errorf("changes since offered %s: %w", short(offered), err)
	}
	types := pipelineTypes(p)
	// In pull-request mode the promotion branch holds the latest proposed
	// target state (its pull request may not be merged yet).
	readRev := head
	if p.Mode == "pull-request" {
		if tip, err := r.Store.Ref("refs/heads/" + prBranch(p)); err == nil && !tip.IsZero() {
			readRev = tip
		}
	}
	// Read every file involved in one pass per revision.
	dsts := make([]string, len(paths))
	for i, path := range paths {
		dsts[i] = dstDir + strings.TrimPrefix(path, srcDir)
	}
	headSrc, err := r.Store.ReadFiles(head, paths)
	if err != nil {
		return nil, err
	}
	offeredSrc, err := r.Store.ReadFiles(offered, paths)
	if err != nil {
		return nil, err
	}
	curDst, err := r.Store.ReadFiles(readRev, dsts)
	if err != nil {
		return nil, err
	}
	var changes []gitstore.Change
	for i, path := range paths {
		dst := dsts[i]
		want, key, err := r.promoted(path, headSrc)
		if err != nil {
			return nil, err
		}
		var before []byte
		if !offered.IsZero() {
			if before, _, err = r.promoted(path, offeredSrc); err != nil {
				return nil, err
			}
		}
		if key == nil {
			continue // not JSON object file (e.g. a derived side file)
		}
		if !slices.Contains(types, key.Type) || excluded(p, *key) {
			continue
		}
		cur := curDst[dst]
		if bytes.Equal(cur, want) {
			continue // already there
		}
		// The target file must still be what promoter wrote for the offered
		// source version; otherwise somebody edited it and it is a conflict.
		if !offered.IsZero() && cur != nil && !bytes.Equal(cur, before) {
			prop.conflicts = append(prop.conflicts, Conflict{
				Path:   dst,
				Object: key.String(),
				Reason: fmt.Sprintf("%s was edited in the target folder since the last promotion and %s changed it too; "+
					"make the target file equal to the source version, delete it (git rm) to accept the source version, "+
					"or exclude the object in the pipeline", dst, p.Source),
			})
			continue
		}
		changes = append(changes, gitstore.Change{Path: dst, Content: want})
		prop.changed = append(prop.changed, dst)
	}
	if len(changes) > 0 {
		spec := gitstore.CommitSpec{
			Message: fmt.Sprintf("Promote %d object(s) from %s to %s", len(changes), p.Source, p.Target) + "\n\n" + summarizePaths(prop.changed, dstDir),
			Trailers: [][2]string{
				{"Promoter-Pipeline", p.Name},
				{"Promoter-Source-Commit", head.String()},
				{"Promoter-Offered-From", hashOrNone(offered)},
			},
			Changes: changes,
		}
		if p.Mode == "pull-request" {
			prop.branch = prBranch(p)
			spec.Branch, spec.Base = prop.branch, head
		}
		c, err := r.Store.Commit(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("commit promotion: %w", err)
		}
		prop.commit = c
		if !c.IsZero() {
			prop.head = c
		}
	}
	if len(prop.conflicts) == 0 && offered != head {
		// Advance offered only when everything was offered: a conflict stays
		// visible on every run until somebody resolves it.
		if err := r.Store.SetRef(offeredRef(p.Name), head, offered); err != nil {
			return nil, fmt.Errorf("advance offered: %w", err)
		}
	}
	return prop, nil
}

// promoted returns what the target folder should hold for the source file at
// path, given the files of one revision: the file with mappings applied, or
// nil when the file does not exist there. key is nil for a file that is not an
// object file.
func (r *Runner) promoted(path string, files map[string][]byte) ([]byte, *spconfig.Key, error) {
	data, ok := files[path]
	if !ok {
		return nil, deletedKey(path), nil // deleted: callers treat nil as delete
	}
	if !strings.HasSuffix(path, ".json") {
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

// deletedKey names a deleted object file by its folder (the type) and file name;
// only the type matters for filtering.
func deletedKey(path string) *spconfig.Key {
	if !strings.HasSuffix(path, ".json") {
		return nil
	}
	parts := strings.Split(path, "/")
	if len(parts) < 2 {
		return nil
	}
	return &spconfig.Key{Type: parts[len(parts)-2], Name: strings.TrimSuffix(parts[len(parts)-1], ".json")}
}

func prBranch(p *PipelineConfig) string {
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
