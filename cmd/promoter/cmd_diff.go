package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"promoter/diff"
	"promoter/gitstore"
	"promoter/spconfig"
)

func init() {
	register(command{name: "diff", summary: "semantic diff of the object files between two revisions",
		usage: "diff [--repo DIR] [--format text|markdown|json] REV1 REV2 [PATH]", run: runDiff})
}

func runDiff(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "diff")
	repoDir := fs.String("repo", ".", "repository working copy")
	format := fs.String("format", "text", "output format: text, markdown or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 2 || len(rest) > 3 {
		return usageError("diff needs REV1 REV2 [PATH]")
	}
	switch *format {
	case "text", "markdown", "json":
	default:
		return usageError("--format %q: use text, markdown or json", *format)
	}
	prefix := "tenants"
	if len(rest) == 3 {
		prefix = strings.TrimPrefix(strings.TrimSuffix(rest[2], "/"), "./")
	}
	repo, err := gitstore.Open(ctx, gitstore.Options{Path: *repoDir, Logger: newLogger(env)})
	if err != nil {
		return err
	}
	var revs [2]gitstore.Hash
	for i, r := range rest[:2] {
		if revs[i], err = repo.Resolve(r); err != nil {
			return usageError("%v", err) // names the revision
		}
	}
	tenants, err := diffTenants(repo, revs, prefix)
	if err != nil {
		return err
	}
	if len(tenants) == 0 {
		return usageError("no tenant folder under %q in %s or %s", prefix, rest[0], rest[1])
	}
	var all diff.Result
	found := prefix == "tenants"
	for _, t := range tenants {
		var sides [2][]spconfig.Entry
		for i, h := range revs {
			files, err := repo.ReadTenant(h, t)
			if err != nil {
				return err
			}
			for _, f := range files {
				if prefix == "tenants" || f.Path == prefix || strings.HasPrefix(f.Path, prefix+"/") {
					sides[i] = append(sides[i], f.Entry)
					found = true
				}
			}
		}
		res, err := diff.Compare(sides[0], sides[1], diff.Options{})
		if err != nil {
			return fmt.Errorf("diff tenants/%s: %w", t, err)
		}
		if len(tenants) > 1 {
			for i := range res.Changes {
				if res.Changes[i].Note == "" {
					res.Changes[i].Note = "tenant " + t
				}
			}
		}
		all.Changes = append(all.Changes, res.Changes...)
	}
	if !found {
		return usageError("path %q holds no object file in %s or %s; name a tenant folder (tenants/prod), a type folder (tenants/prod/TRANSFORM) or an object file (tenants/prod/TRANSFORM/Get Worker Type.json)", prefix, rest[0], rest[1])
	}
	title := fmt.Sprintf("%s..%s %s", rest[0], rest[1], prefix)
	switch *format {
	case "markdown":
		return diff.RenderMarkdown(env.stdout, all, diff.MarkdownOptions{Title: title})
	case "json":
		return diff.RenderJSON(env.stdout, all)
	default:
		return diff.RenderText(env.stdout, all, diff.TextOptions{Title: title, Color: env.colorEnabled(env.stdout)})
	}
}

// diffTenants lists the tenant folders under prefix at either revision.
func diffTenants(repo *gitstore.Repo, revs [2]gitstore.Hash, prefix string) ([]string, error) {
	if rest, ok := strings.CutPrefix(prefix, "tenants/"); ok && rest != "" {
		t, _, _ := strings.Cut(rest, "/")
		return []string{t}, nil
	}
	var out []string
	for _, h := range revs {
		paths, err := repo.ChangedPaths(gitstore.Hash{}, h, "tenants/")
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			parts := strings.SplitN(p, "/", 3)
			if len(parts) == 3 && !slices.Contains(out, parts[1]) {
				out = append(out, parts[1])
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
