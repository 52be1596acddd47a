package main

import (
	"context"

	"promoter/pipeline"
)

func init() {
	register(command{name: "plan", summary: "plan, preview and gate a revision (no import)",
		usage: "plan --config FILE [--pipeline NAME] [--rev REV] [--format text|markdown|json]", run: runPlan})
}

func runPlan(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "plan")
	config := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline (default: every pipeline)")
	rev := fs.String("rev", "", "revision of the target folder to plan (default: what the next run would do, committing nothing)")
	format := fs.String("format", "text", "output format: text, markdown or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *format {
	case pipeline.FormatText, pipeline.FormatMarkdown, pipeline.FormatJSON:
	default:
		return usageError("--format %q: use text, markdown or json", *format)
	}
	return eachRunner(ctx, env, *config, *name, true, func(r *pipeline.Runner) error {
		res, err := r.Plan(ctx, *rev)
		if res != nil && res.Plan != nil {
			if rerr := pipeline.RenderPlan(env.stdout, res.Plan, *format, *format == "text" && env.colorEnabled(env.stdout)); rerr != nil && err == nil {
				err = rerr
			}
		}
		return flowError(err)
	})
}
