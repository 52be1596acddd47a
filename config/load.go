package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Loading a file: read, decode strictly, default, resolve paths, validate.

// Load reads and parses a configuration file. Relative file paths in it
// (repo.path, token and key files) are relative to the file's folder,
// whatever the working directory: Load makes them absolute.
func Load(path string) (*Config, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &Error{File: path, Problems: []Problem{{Msg: fmt.Sprintf("cannot read the configuration: %v", errors.Unwrap(err))}}}
	}
	if fi.Size() > maxConfigSize {
		return nil, &Error{File: path, Problems: []Problem{{Msg: fmt.Sprintf("file is %d bytes; a configuration is at most %d", fi.Size(), maxConfigSize)}}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problems: []Problem{{Msg: fmt.Sprintf("cannot read the configuration: %v", err)}}}
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{File: path, Problems: []Problem{{Msg: fmt.Sprintf("cannot resolve the configuration's folder: %v", err)}}}
	}
	c.resolvePaths(dir)
	if ps := c.checkRepoPath(); len(ps) > 0 {
		return nil, &Error{File: path, Problems: ps}
	}
	return c, nil
}

// checkRepoPath checks repo.path on disk (after resolvePaths): a file is no
// working copy, and a folder that is neither empty nor a git repository is
// taken only with repo.init: true, since promoter would commit into it.
func (c *Config) checkRepoPath() []Problem {
	p := c.Repo.Path
	problem := func(format string, args ...any) []Problem {
		return []Problem{{Line: c.line("repo.path"), Path: "repo.path", Msg: fmt.Sprintf(format, args...)}}
	}
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil // created on the first run
	case err != nil:
		return problem("cannot use %s: %v", p, err)
	case !st.IsDir():
		return problem("%s is a file; repo.path must be the folder of the git working copy (created if missing)", p)
	}
	if _, err := os.Stat(filepath.Join(p, ".git")); err == nil || c.Repo.Init || c.Repo.Remote != "" {
		return nil // a remote is cloned only into an empty folder: gitstore says so
	}
	if ents, err := os.ReadDir(p); err == nil && len(ents) > 0 {
		return problem("%s is a folder that is not empty and not a git repository; point repo.path to a new or empty folder or to a clone of the repository, or set repo.init: true to make a repository of this folder", p)
	}
	return nil
}

// resolvePaths makes relative file paths relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Repo.Path)
	abs(&c.Repo.Auth.TokenFile)
	abs(&c.Repo.Auth.SSHKeyFile)
	abs(&c.Serve.TriggerTokenFile)
	for _, t := range c.Tenants {
		abs(&t.ClientIDFile)
		abs(&t.ClientSecretFile)
	}
}

// Parse decodes a configuration strictly (unknown keys, wrong types and
// duplicate keys are problems with their line), applies defaults and
// validates it. Every problem found is returned in one *Error.
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{Path: name, lines: map[string]int{}}
	cerr := &Error{File: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		cerr.Problems = append(cerr.Problems, yamlProblem(err, data))
		return nil, cerr
	}
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && len(root.Content) == 0) {
		cerr.Problems = append(cerr.Problems, Problem{Line: 1, Msg: "the file is empty; start from promotion.yaml.example"})
		return nil, cerr
	}
	if line := secondDocument(data); line > 0 {
		cerr.Problems = append(cerr.Problems, Problem{Line: line, Msg: "the file holds more than one YAML document; keep one (remove the --- separator)"})
	}
	d := &decoder{lines: c.lines}
	d.decode(root.Content[0], reflect.ValueOf(c).Elem(), "", 0)
	cerr.Problems = append(cerr.Problems, d.problems...)
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				if !d.covered(p.Path) {
					cerr.Problems = append(cerr.Problems, p)
				}
			}
		}
	}
	if len(cerr.Problems) > 0 {
		sortProblems(cerr.Problems)
		return nil, cerr
	}
	return c, nil
}
