package main

import (
	"context"
	"fmt"
	"os"

	"promoter/gitstore"
	"promoter/spconfig"
)

func init() {
	register(command{
		name:    "split",
		summary: "split an export document into one JSON file per object",
		usage:   "split --in EXPORT.json --out DIR",
		run:     runSplit,
	})
}

func runSplit(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "split")
	in := fs.String("in", "", "export document to read (`FILE`, \"-\" for stdin)")
	out := fs.String("out", "", "folder to write <TYPE>/<name>.json files into (`DIR`)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		return usageError("split needs --in EXPORT.json and --out DIR and no other arguments")
	}
	r := env.stdin
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("split: %w", err)
		}
		defer f.Close()
		r = f
	}
	doc, err := spconfig.ReadExport(r)
	if err != nil {
		return fmt.Errorf("split %s: %w; nothing was written", *in, err)
	}
	if err := gitstore.Split(doc, *out); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %d objects to %s\n", len(doc.Objects), *out)
	return nil
}
