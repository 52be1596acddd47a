// Command promoter promotes SailPoint ISC tenant configuration through git:
// export, snapshot, diff, preview, gate and import. main only wires the
// subcommands (one cmd_<verb>.go each) to the packages that do the work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"promoter/diff"
)

// Exit codes (DESIGN section 6).
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
	exitBlocked = 3
)

// exitError carries an exit code to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a usage or configuration problem (exit 2).
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// command is one subcommand. run gets the arguments after the verb.
type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is what a subcommand may touch of the process.
type environment struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func main() {
	// Nothing promoter writes (repository, lock, in-flight marker, state) may
	// be world-writable, whatever umask it was started with.
	syscall.Umask(syscall.Umask(0) | 0o002)
	setGCPercent(os.Getenv)
	startHeapProfiles(os.Getenv(heapProfilesEnv))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv), os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode is the process's exit code for run's error (DESIGN section 6:
// 0 success or help asked for, 1 runtime error, 2 usage or configuration
// error, 3 blocked by a gate); it prints the error on stderr.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	// an error may name an object whose name holds control characters;
	// its own lines (several causes) stay lines
	fmt.Fprintln(stderr, "promoter:", diff.EscapeControlLines(err.Error()))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitRuntime
}

// run is the whole program but the process: args are the arguments after
// the program name, getenv reads the environment (os.Getenv in main, a map in
// the in-process tests, main_test.go). Its error becomes the exit code
// through exitCode.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	env := &environment{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return usageError("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		printUsage(stderr)
		return usageError("unknown command %q", args[0])
	}
	return c.run(ctx, env, args[1:])
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "promoter promotes SailPoint ISC configuration between tenants through git.")
	fmt.Fprintln(w, "\nUsage:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  promoter %-10s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a flag set for a subcommand whose parse errors are usage errors.
func newFlags(env *environment, c string) *flag.FlagSet {
	fs := flag.NewFlagSet("promoter "+c, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: promoter %s\n", strings.TrimSpace(commands[c].usage))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns a bad flag into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: exitUsage, err: err}
	}
	return nil
}
