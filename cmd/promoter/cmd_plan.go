package main

import (
	"context"
	"fmt"
	"os"

	"promoter/pipeline"
)

func init() {
	register(command{name: "plan", summary: "plan, preview and gate a revision (no import)",
		usage: "plan --config FILE [--pipeline NAME] [--rev REV] [--format text|markdown|json] [--upload-file FILE]", run: runPlan})
}

func runPlan(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "plan")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	name := fs.String("pipeline", "", "pipeline (default: every pipeline)")
	rev := fs.String("rev", "", "revision of the target folder to plan (default: what the next run would do, committing nothing)")
	format := fs.String("format", "text", "output format: text, markdown or json")
	upload := fs.String("upload-file", "", "write the Configuration Hub upload document of the objects SP-Config cannot import to FILE")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *format {
	case pipeline.FormatText, pipeline.FormatMarkdown, pipeline.FormatJSON:
	default:
		return usageError("--format %q: use text, markdown or json", *format)
	}
	// --upload-file is one pipeline's document: with several pipelines and
	// no --pipeline, eachRunner asks for one (exit 2) instead of writing the
	// file once per pipeline, the last one winning.
	return eachRunner(ctx, env, *configFile, *name, *upload == "", func(r *pipeline.Runner) error {
		res, err := r.Plan(ctx, *rev)
		if *upload != "" && res != nil && res.Plan != nil {
			if werr := writeUpload(env, *upload, res.Plan); werr != nil {
				return werr
			}
		}
		if res != nil && res.Plan != nil {
			if rerr := pipeline.RenderPlan(env.stdout, res.Plan, *format, *format == "text" && env.colorEnabled(env.stdout)); rerr != nil && err == nil {
				err = rerr
			}
		}
		return flowError(err)
	})
}

// writeUpload writes the plan's hand-off document: the changed objects of
// the types SP-Config cannot import, for a Configuration Hub upload.
func writeUpload(env *environment, path string, pl *pipeline.Plan) error {
	if len(pl.Handoff) == 0 {
		fmt.Fprintf(env.stderr, "%s: no object needs Configuration Hub; %s not written\n", pl.Pipeline, path)
		return nil
	}
	if err := os.WriteFile(path, pl.Handoff, 0o644); err != nil {
		return fmt.Errorf("write upload file: %w", err)
	}
	fmt.Fprintf(env.stderr, "%s: wrote the Configuration Hub upload document (%d bytes) to %s: upload it in Configuration Hub (Upload Configuration), create a draft and deploy it\n", pl.Pipeline, len(pl.Handoff), path)
	return nil
}
