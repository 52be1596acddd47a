package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"promoter/gitstore"
)

func init() {
	register(command{
		name:    "assemble",
		summary: "assemble object files back into one export document",
		usage:   "assemble --in DIR --out FILE   (FILE \"-\" is stdout)",
		run:     runAssemble,
	})
}

func runAssemble(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "assemble")
	in := fs.String("in", "", "folder holding <TYPE>/<name>.json files (`DIR`)")
	out := fs.String("out", "", "export document to write (`FILE`, \"-\" for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		return usageError("assemble needs --in DIR and --out FILE and no other arguments")
	}
	doc, err := gitstore.Assemble(*in)
	if err != nil {
		return err
	}
	if len(doc.Objects) == 0 {
		hint := ""
		if st, err := os.Stat(filepath.Join(*in, "tenants")); err == nil && st.IsDir() {
			hint = fmt.Sprintf("; %s looks like a repository: pass a tenant folder, e.g. --in %s", *in, filepath.Join(*in, "tenants", "<tenant>"))
		}
		return usageError("assemble %s: no object files found; --in must hold <TYPE>/<name>.json files (the layout promoter split writes and a tenant folder such as tenants/dev has)%s", *in, hint)
	}
	if *out == "-" {
		return doc.Encode(env.stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".assemble-*")
	if err != nil {
		return fmt.Errorf("assemble: %w", err)
	}
	if err := doc.Encode(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("assemble %s: %w", *out, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("assemble %s: %w", *out, err)
	}
	_ = os.Chmod(tmp.Name(), 0o644)
	if err := os.Rename(tmp.Name(), *out); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("assemble %s: %w", *out, err)
	}
	fmt.Fprintf(env.stderr, "wrote %d objects to %s\n", len(doc.Objects), *out)
	return nil
}
