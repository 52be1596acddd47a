package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"promoter/spconfig/spconfigtest"
)

// The tests in this file call run in process, as main does, for what needs
// no child process: usage, flags, exit codes and validate's output. They
// take milliseconds where the end-to-end binary takes a process start each.

// promote runs the program in process with args and the environment vars
// (nil: none) and returns stdout, stderr and the exit code main would exit
// with.
func promote(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return vars[k] }
	err := run(t.Context(), args, strings.NewReader(""), &out, &errOut, getenv)
	code = exitCode(err, &errOut)
	return out.String(), errOut.String(), code
}

// e2eSecrets are the variables e2eConfig names.
var e2eSecrets = map[string]string{
	"E2E_DEV_ID": "dev-id", "E2E_DEV_SECRET": "dev-secret-XYZZY",
	"E2E_PROD_ID": "prod-id", "E2E_PROD_SECRET": "prod-secret-XYZZY",
	"NO_COLOR": "1",
}

// writeConfig writes text as promotion.yaml in a new folder and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "promotion.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// goodConfig is e2eConfig with tenants that are never contacted.
var goodConfig = fmt.Sprintf(e2eConfig, "https://acme-sb.api.identitynow.com", "https://acme.api.identitynow.com")

// designCommands are the commands of DESIGN section 6 and the flags it
// names for each (a contract: tests outside the project use them).
var designCommands = map[string][]string{
	"demo":        {"dir"},
	"run":         {"config", "pipeline", "dry-run"},
	"export":      {"config", "pipeline"},
	"plan":        {"config", "pipeline", "rev", "format"},
	"apply":       {"config", "pipeline", "rev"},
	"rollback":    {"config", "pipeline", "to"},
	"adopt":       {"config", "pipeline", "object"},
	"resume":      {"config", "pipeline", "job"},
	"hold":        {"reason", "config", "by"},
	"release":     {"config", "by"},
	"serve":       {"config", "listen"},
	"validate":    {"config"},
	"diff":        {"repo", "format"},
	"split":       {"in", "out"},
	"assemble":    {"in", "out"},
	"fake-tenant": {"listen", "seed", "identities", "state", "client-id", "client-secret", "faults", "job-delay"},
	"version":     nil,
}

// commandNames returns the registered commands, sorted.
func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TestUsageWithoutOrWithUnknownCommand: no command prints the usage on
// stdout and exits 2, help asked for prints it and exits 0, an unknown
// command prints it on stderr and exits 2; the usage names every command.
func TestUsageWithoutOrWithUnknownCommand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args        []string
		code        int
		usageStdout bool   // the usage goes to stdout (else stderr, before the error)
		errLine     string // the last line of stderr
	}{
		{nil, exitUsage, true, "promoter: no command given\n"},
		{[]string{"help"}, exitOK, true, ""},
		{[]string{"-h"}, exitOK, true, ""},
		{[]string{"--help"}, exitOK, true, ""},
		{[]string{"no-such-command"}, exitUsage, false, "promoter: unknown command \"no-such-command\"\n"},
		{[]string{"--config", "promotion.yaml"}, exitUsage, false, "promoter: unknown command \"--config\"\n"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, code := promote(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			usage := stdout
			if tc.usageStdout && stderr != tc.errLine {
				t.Errorf("stderr %q, want %q", stderr, tc.errLine)
			}
			if !tc.usageStdout {
				usage = strings.TrimSuffix(stderr, tc.errLine)
				if stdout != "" || usage == stderr {
					t.Errorf("stdout %q, want nothing; stderr does not end with %q:\n%s", stdout, tc.errLine, stderr)
				}
			}
			if !strings.HasPrefix(usage, "promoter promotes SailPoint ISC configuration") {
				t.Errorf("no usage:\n%s", usage)
			}
			for _, name := range commandNames() {
				if !strings.Contains(usage, "\n  promoter "+name+" ") {
					t.Errorf("usage does not list %s:\n%s", name, usage)
				}
			}
		})
	}
}

// TestEveryDesignCommandIsRegistered: the commands of DESIGN section 6 are
// exactly the registered ones.
func TestEveryDesignCommandIsRegistered(t *testing.T) {
	t.Parallel()
	var design []string
	for n := range designCommands {
		design = append(design, n)
	}
	slices.Sort(design)
	if got := commandNames(); !slices.Equal(got, design) {
		t.Errorf("registered commands %q, DESIGN section 6 has %q", got, design)
	}
}

// helpFlags returns the flags -h lists ("  -name ..." lines).
func helpFlags(help string) []string {
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(help, -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// TestHelpOfEveryCommand: `promoter CMD -h` exits 0, prints nothing on
// stdout and on stderr the command's usage line and its flags: every flag
// DESIGN names for it and every flag its usage line shows.
func TestHelpOfEveryCommand(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := promote(t, nil, name, "-h")
			if code != exitOK || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 0 and nothing", code, stdout)
			}
			if want := "usage: promoter " + strings.TrimSpace(commands[name].usage) + "\n"; !strings.HasPrefix(stderr, want) {
				t.Errorf("-h does not start with the usage line %q:\n%s", want, stderr)
			}
			listed := helpFlags(stderr)
			want := slices.Clone(designCommands[name])
			for _, m := range regexp.MustCompile(`--([a-z-]+)`).FindAllStringSubmatch(commands[name].usage, -1) {
				want = append(want, m[1])
			}
			for _, f := range want {
				if !slices.Contains(listed, f) {
					t.Errorf("-h does not list -%s:\n%s", f, stderr)
				}
			}
			if name != "version" && len(listed) == 0 {
				t.Errorf("-h lists no flags:\n%s", stderr)
			}
		})
	}
}

// TestUnknownFlagOfEveryCommand: an undefined flag exits 2 naming the flag,
// with the command's usage on stderr and nothing on stdout.
func TestUnknownFlagOfEveryCommand(t *testing.T) {
	t.Parallel()
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := promote(t, nil, name, "--no-such-flag")
			if code != exitUsage || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
			}
			for _, want := range []string{"flag provided but not defined: -no-such-flag", "usage: promoter " + name, "promoter: flag provided but not defined"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestMissingOrBadRequiredArguments: a command without a flag or argument it
// needs, or with a value it does not take, exits 2 before doing anything,
// naming what is missing or wrong; nothing on stdout.
func TestMissingOrBadRequiredArguments(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, goodConfig)
	cases := map[string][]struct {
		args []string
		want string
	}{
		"run":      {{nil, "--config FILE is required"}, {[]string{"--pipeline", "dev-to-prod"}, "--config FILE is required"}},
		"export":   {{nil, "--config FILE is required"}},
		"plan":     {{nil, "--config FILE is required"}, {[]string{"--config", cfg, "--format", "yaml"}, `--format "yaml": use text, markdown or json`}},
		"apply":    {{[]string{"--rev", "HEAD"}, "--config FILE is required"}},
		"serve":    {{nil, "--config FILE is required"}, {[]string{"--config", cfg, "extra"}, "serve takes no arguments"}, {[]string{"--config", cfg, "--log-format", "xml"}, `--log-format "xml"`}},
		"validate": {{nil, "--config FILE is required"}, {[]string{"--config", cfg, "extra"}, `unexpected argument "extra"`}},
		"rollback": {
			{[]string{"--pipeline", "dev-to-prod", "--to", "HEAD~1"}, "--config FILE is required"},
			{[]string{"--config", cfg, "--to", "HEAD~1"}, "rollback needs --pipeline NAME and --to REV"},
			{[]string{"--config", cfg, "--pipeline", "dev-to-prod"}, "rollback needs --pipeline NAME and --to REV"},
		},
		"adopt": {
			{[]string{"--pipeline", "dev-to-prod"}, "--config FILE is required"},
			{[]string{"--config", cfg}, "adopt needs --pipeline NAME"},
		},
		"resume": {
			{[]string{"--pipeline", "dev-to-prod", "--job", "j1"}, "--config FILE is required"},
			{[]string{"--config", cfg, "--job", "j1"}, "resume needs --pipeline NAME and --job ID"},
			{[]string{"--config", cfg, "--pipeline", "dev-to-prod"}, "resume needs --pipeline NAME and --job ID"},
		},
		"hold": {
			{[]string{"dev-to-prod", "--reason", "freeze"}, "--config FILE is required"},
			{[]string{"dev-to-prod", "extra", "--reason", "freeze", "--config", cfg}, "unexpected arguments"},
		},
		"release": {
			{[]string{"dev-to-prod"}, "--config FILE is required"},
			{[]string{"--config", cfg}, "PIPELINE is required"},
		},
		"diff": {
			{nil, "diff needs REV1 REV2 [PATH]"},
			{[]string{"HEAD"}, "diff needs REV1 REV2 [PATH]"},
			{[]string{"a", "b", "c", "d"}, "diff needs REV1 REV2 [PATH]"},
			{[]string{"--format", "yaml", "a", "b"}, `--format "yaml"`},
		},
		"split": {
			{[]string{"--in", "export.json"}, "split needs --in EXPORT.json and --out DIR"},
			{[]string{"--out", "dir"}, "split needs --in EXPORT.json and --out DIR"},
		},
		"assemble": {
			{[]string{"--in", "dir"}, "assemble needs --in DIR and --out FILE"},
			{[]string{"--out", "-"}, "assemble needs --in DIR and --out FILE"},
		},
		"fake-tenant": {
			{[]string{"extra"}, "fake-tenant takes no arguments"},
			{[]string{"--seed", "a.json", "--seed-sample", "dev"}, "give --seed or --seed-sample, not both"},
		},
	}
	for name, list := range cases {
		for _, tc := range list {
			t.Run(name+" "+strings.Join(tc.args, " "), func(t *testing.T) {
				stdout, stderr, code := promote(t, e2eSecrets, append([]string{name}, tc.args...)...)
				if code != exitUsage || stdout != "" {
					t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
				}
				if !strings.Contains(stderr, tc.want) {
					t.Errorf("stderr does not say %q:\n%s", tc.want, stderr)
				}
			})
		}
	}
	for _, name := range commandNames() {
		if _, ok := cases[name]; !ok && name != "demo" && name != "version" {
			t.Errorf("no case for %s, which has required arguments", name)
		}
	}
}

// TestExitCodeOfErrors pins exitCode, the one mapping of run's error to the
// exit codes of DESIGN section 6, and what it prints on stderr.
func TestExitCodeOfErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"success", nil, exitOK, ""},
		{"help", flag.ErrHelp, exitOK, ""},
		{"runtime", errors.New("export dev: connection refused"), exitRuntime, "promoter: export dev: connection refused\n"},
		{"usage", usageError("--config FILE is required"), exitUsage, "promoter: --config FILE is required\n"},
		{"wrapped usage", fmt.Errorf("pipeline x: %w", usageError("bad")), exitUsage, "promoter: pipeline x: bad\n"},
		{"blocked", &exitError{code: exitBlocked, err: errors.New("blocked")}, exitBlocked, "promoter: blocked\n"},
		{"control characters", errors.New("object \x1b[31mred\nnext line"), exitRuntime, "promoter: object \\x1b[31mred\nnext line\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := exitCode(tc.err, &stderr); code != tc.code || stderr.String() != tc.stderr {
				t.Errorf("exitCode(%v) = %d, stderr %q; want %d, %q", tc.err, code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}

// TestExitCodesOfDesign drives run to each exit code of DESIGN section 6:
// 0 success, 1 runtime error, 2 usage or configuration error, 3 blocked by
// a gate (a plan whose preview has errors, against in-process fake tenants).
func TestExitCodesOfDesign(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	badConfig := writeConfig(t, "repo:\n  path: x\n  colour: blue\ntenants: {}\npipelines: []\n")
	cases := []struct {
		name string
		args []string
		code int
		want string // on stdout for 0 and 3, on stderr else
	}{
		{"version", []string{"version"}, exitOK, "promoter "},
		{"valid configuration", []string{"validate", "--config", writeConfig(t, goodConfig)}, exitOK, ": ok (2 tenants, 1 pipelines)"},
		{"unreadable export", []string{"split", "--in", missing, "--out", filepath.Join(dir, "out")}, exitRuntime, "missing.json"},
		{"bad configuration", []string{"run", "--config", badConfig}, exitUsage, "colour"},
		{"missing configuration", []string{"export", "--config", filepath.Join(dir, "nope.yaml")}, exitUsage, "nope.yaml"},
		{"unknown pipeline", []string{"plan", "--config", writeConfig(t, goodConfig), "--pipeline", "nope"}, exitUsage, "nope"},
		{"blocked", []string{"plan", "--config", fakeTenantsConfig(t)}, exitBlocked, "Verdict: BLOCKED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := promote(t, e2eSecrets, tc.args...)
			if code != tc.code {
				t.Fatalf("promoter %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.code, stdout, stderr)
			}
			got := stderr
			if code == exitOK || code == exitBlocked {
				got = stdout
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("promoter %s does not say %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), tc.want, stdout, stderr)
			}
		})
	}
}

// TestVersion: version prints "promoter VERSION GO OS/ARCH" on stdout.
func TestVersion(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := promote(t, nil, "version")
	if code != exitOK || stderr != "" || !regexp.MustCompile(`^promoter \S+ go\S+ \w+/\w+\n$`).MatchString(stdout) {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// fakeTenantsConfig starts fake tenants dev and prod from the embedded
// samples (prod lacks an identity dev's objects reference, so the first
// preview has errors) and returns a configuration of them.
func fakeTenantsConfig(t *testing.T) string {
	t.Helper()
	var urls []any
	for _, name := range []string{"dev", "prod"} {
		seed, err := spconfigtest.SampleExport(name)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := spconfigtest.SampleIdentities(name)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: seed, Identities: ids,
			ClientID: e2eSecrets["E2E_"+strings.ToUpper(name)+"_ID"], ClientSecret: e2eSecrets["E2E_"+strings.ToUpper(name)+"_SECRET"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		urls = append(urls, srv.URL)
	}
	return writeConfig(t, fmt.Sprintf(e2eConfig, urls...))
}

// TestValidateOutput: validate prints "FILE: ok (N tenants, M pipelines)" on
// stdout for a good configuration and, for a bad one, every problem on
// stderr as FILE:LINE: path: message, then a count, and exits 2.
func TestValidateOutput(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, goodConfig)
	stdout, stderr, code := promote(t, e2eSecrets, "validate", "--config", good)
	if code != exitOK || stdout != good+": ok (2 tenants, 1 pipelines)\n" || stderr != "" {
		t.Errorf("good configuration: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	cases := []struct {
		name   string
		config string
		vars   map[string]string
		want   []string // lines of stderr, FILE replaced by the file's path
	}{
		{"unknown key", "repo:\n  path: x\n  colour: blue\ntenants: {}\npipelines: []\n", e2eSecrets,
			[]string{"FILE:3: repo.colour: unknown key"}},
		{"two problems", strings.Replace(goodConfig, "  path: ./repo\n", "  path: ./repo\n  brnch: main\n", 1) + "    colour: blue\n", e2eSecrets,
			[]string{"FILE:3: repo.brnch: unknown key", `did you mean "branch"`, "FILE:21: pipelines[0].colour: unknown key", "2 problems"}},
		{"unknown tenant", strings.Replace(goodConfig, "target: prod", "target: qa", 1), e2eSecrets,
			[]string{`pipelines[0].target: unknown tenant "qa"`, "1 problem;"}},
		{"missing secret", goodConfig, map[string]string{"E2E_DEV_ID": "a", "E2E_DEV_SECRET": "b", "E2E_PROD_ID": "c"},
			[]string{"E2E_PROD_SECRET"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.config)
			stdout, stderr, code := promote(t, tc.vars, "validate", "--config", path)
			if code != exitUsage || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "FILE", path); !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if !strings.Contains(stderr, "promoter: validate "+path+": ") || !strings.Contains(stderr, "fix them and run promoter validate again") {
				t.Errorf("stderr does not end with the count and what to do:\n%s", stderr)
			}
		})
	}
}
