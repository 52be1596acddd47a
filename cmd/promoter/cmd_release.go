package main

import (
	"context"
	"fmt"
	"time"

	"promoter/pipeline"
)

func init() {
	register(command{name: "release", summary: "release the hold of a pipeline so its imports resume",
		usage: "release PIPELINE --config FILE [--by NAME]", run: runRelease})
}

func runRelease(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "release")
	configFile := fs.String("config", "", "configuration file (promotion.yaml)")
	by := fs.String("by", "", "who releases it (default $USER@host)")
	name, err := parsePipelineArgs(fs, args)
	if err != nil {
		return err
	}
	if name == "" {
		return usageError("PIPELINE is required: promoter release PIPELINE --config FILE")
	}
	store, cfg, logger, err := openHoldStore(ctx, env, *configFile)
	if err != nil {
		return err
	}
	if _, err := cfg.Pipeline(name); err != nil {
		// a hold of a pipeline since removed from the configuration may
		// still be released
		if h, herr := pipeline.HoldOf(store, name); herr != nil || h == nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	released, err := pipeline.ReleaseHold(ctx, &waitingLock{store, logger}, name, holder(env, *by), time.Now())
	if err != nil {
		return err
	}
	if released == nil {
		fmt.Fprintf(env.stdout, "%s is not held; nothing to release\n", name)
		return nil
	}
	fmt.Fprintf(env.stdout, "%s released (it was held by %s since %s: %s)\n", name, released.By, released.Since.Format(time.RFC3339), released.Reason)
	return nil
}
