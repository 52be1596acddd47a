package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"promoter/gitstore"
	"promoter/spconfig"
)

// UsageError is a request the flow cannot carry out as asked (an unknown
// object name, say); the command exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Adopt takes the live target's version of drifted objects (or of the named
// ones, "TYPE:NAME" or "TYPE:SCOPE / NAME") into the target folder as one
// commit, and makes it their drift reference. In pull-request mode the
// commit goes to branch promoter/<pipeline>-adopt with a pull request, and
// the reference follows once it is merged (a desired state equal to the
// live target is no drift).
func (r *Runner) Adopt(ctx context.Context, objects []string) (*Result, error) {
	res, err := r.adoptFlow(ctx, objects)
	return r.done("adopt", res, err)
}

func (r *Runner) adoptFlow(ctx context.Context, objects []string) (*Result, error) {
	p := r.Pipeline
	res := &Result{Pipeline: p.Name, Outcome: OutcomeNothing}
	unlock, err := r.begin(ctx, res, true)
	if err != nil {
		return res, err
	}
	defer unlock()
	head, err := r.Store.Head()
	if err != nil {
		return res, err
	}
	st := &state{v: commitView(head)}
	if err := r.observeStep(ctx, res, st, true); err != nil {
		return res, err
	}
	var pl *Plan
	err = r.step(ctx, res, "plan", func() (string, string, error) {
		var err error
		pl, err = r.plan(st.v, st.obs, st.ref)
		if err != nil {
			return "", "", err
		}
		return "ok", fmt.Sprintf("%d drift", pl.Counts[ClassDrift]), nil
	})
	if err != nil {
		return res, err
	}
	pl.desired = nil // adoption imports nothing: no verify reads it
	res.Plan = pl
	picked, err := pickAdopted(pl, st.obs, objects)
	if err != nil {
		return res, err
	}
	err = r.step(ctx, res, "adopt", func() (string, string, error) {
		if len(picked) == 0 {
			return "unchanged", "no drift in " + p.Target + ": nothing to adopt", nil
		}
		return r.commitAdoption(ctx, res, st, picked)
	})
	if err != nil {
		return res, err
	}
	return res, r.push(ctx, nil)
}

// pickAdopted selects the plan items to adopt: the named objects, or every
// drifted one.
func pickAdopted(pl *Plan, obs *observation, objects []string) ([]PlanItem, error) {
	var out []PlanItem
	if len(objects) == 0 {
		for _, it := range pl.Items {
			if it.Class == ClassDrift {
				out = append(out, it)
			}
		}
		return out, nil
	}
	for _, o := range objects {
		typ, name, ok := strings.Cut(o, ":")
		if !ok || typ == "" || name == "" {
			return nil, &UsageError{fmt.Errorf("--object %q: use TYPE:NAME, e.g. TRANSFORM:Lowercase Email", o)}
		}
		i := slices.IndexFunc(pl.Items, func(it PlanItem) bool {
			k := it.Key
			return k.Type == typ && (k.Name == name || k.Scope+" / "+k.Name == name) && it.Class != ClassExcluded
		})
		if i < 0 {
			return nil, &UsageError{fmt.Errorf("--object %q: no such object in %s or in the desired state of this pipeline", o, pl.Target)}
		}
		if !obs.live.has(pl.Items[i].Key) && pl.Items[i].desired == nil {
			return nil, &UsageError{fmt.Errorf("--object %q: not in %s", o, pl.Target)}
		}
		out = append(out, pl.Items[i])
	}
	return out, nil
}

// commitAdoption writes the live versions of the picked objects into the
// target folder (deleting the files of objects gone from the target).
func (r *Runner) commitAdoption(ctx context.Context, res *Result, st *state, picked []PlanItem) (string, string, error) {
	p := r.Pipeline
	pathOf, err := st.obs.paths(p.Target)
	if err != nil {
		return "", "", err
	}
	var changes []gitstore.Change
	var paths, types []string
	var live []gitstore.FileRef
	gone := map[spconfig.Key]bool{}
	for _, it := range picked {
		path := it.Path
		if path == "" {
			path = pathOf[it.Key]
		}
		if f, ok := st.obs.live.get(it.Key); ok {
			e, _, err := r.liveEntry(st.obs, it.Key)
			if err != nil {
				return "", "", err
			}
			changes = append(changes, gitstore.Change{Path: path, Content: gitstore.EncodeFile(e)})
			live = append(live, f)
		} else {
			changes = append(changes, gitstore.Change{Path: path})
			gone[it.Key] = true
		}
		paths = append(paths, path)
		types = append(types, it.Key.Type)
	}
	spec := gitstore.CommitSpec{
		Message: fmt.Sprintf("Adopt %d object(s) from tenant %s (%s)", len(changes), p.Target, st.obs.org) + "\n\n" +
			fmt.Sprintf("The live version of objects changed in %s outside promoter, taken into %s.\n\n", p.Target, tenantDir(p.Target)) +
			summarizePaths(paths, tenantDir(p.Target)),
		Trailers: [][2]string{
			{"Promoter-Pipeline", p.Name},
			{"Promoter-Tenant", p.Target},
			{trailerAdopt, st.obs.job},
		},
		Changes: changes,
	}
	if p.Mode == "pull-request" {
		branch := prBranch(p) + "-adopt"
		spec.Branch, spec.Base = branch, st.v.rev
		c, err := r.Store.Commit(ctx, spec)
		if err != nil {
			return "", "", fmt.Errorf("commit adoption: %w", err)
		}
		res.PromotionCommit, res.Branch = hashOrEmpty(c), branch
		if err := r.Store.Push(ctx, branch); err != nil {
			return "", "", fmt.Errorf("push %s: %w", branch, err)
		}
		res.Outcome = OutcomeProposed
		if r.PullRequests != nil {
			url, err := r.PullRequests.OpenOrUpdate(ctx, PullRequest{
				Pipeline: p.Name, Branch: branch, Base: r.Config.Repo.Branch,
				Title: fmt.Sprintf("promoter: adopt %d object(s) changed in %s", len(changes), p.Target),
				Body:  fmt.Sprintf("Drift offered back: the live version of objects changed in %s outside promoter.\n\n%s\n", p.Target, summarizePaths(paths, tenantDir(p.Target))),
			})
			if err != nil {
				return "", "", fmt.Errorf("open pull request for %s: %w", branch, err)
			}
			res.PullRequestURL = url
		}
		return "proposed", fmt.Sprintf("%d object(s) on branch %s", len(changes), branch), nil
	}
	c, err := r.Store.Commit(ctx, spec)
	if err != nil {
		return "", "", fmt.Errorf("commit adoption: %w", err)
	}
	objs := referenceWith(st.ref, types, live)
	objs = slices.DeleteFunc(objs, func(f gitstore.FileRef) bool { return gone[f.Entry.Key()] })
	if _, err := r.recordReference(ctx, st.obs, "adopt", types, objs); err != nil {
		return "", "", err
	}
	res.PromotionCommit = hashOrEmpty(c)
	res.Outcome = OutcomeAdopted
	return "committed", fmt.Sprintf("%d object(s) taken into %s, commit %s", len(changes), tenantDir(p.Target), short(c)), nil
}
