package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"promoter/config"
	"promoter/spconfig"
)

// How the log format reaches every subcommand (README "Logs"):
//
//	--log-format text|json|auto   flag of `promoter serve` (wins)
//	PROMOTER_LOG_FORMAT           environment, every subcommand
//	log.format in promotion.yaml  when the command loaded a configuration
//	auto                          text when stderr is a terminal, JSON otherwise
//
// The level likewise: PROMOTER_LOG_LEVEL, then log.level, then info.

// Environment variables read by the logger.
const (
	envLogFormat = "PROMOTER_LOG_FORMAT"
	envLogLevel  = "PROMOTER_LOG_LEVEL"
)

// logSettings is the resolved format and level.
type logSettings struct {
	Format string // auto | text | json
	Level  string // debug | info | warn | error
}

// logSettingsFor resolves the settings from the environment and, when given,
// the configuration. Unknown values are reported in problems and ignored.
func logSettingsFor(env *environment, cfg *config.Config) (s logSettings, problems []string) {
	s = logSettings{Format: "auto", Level: "info"}
	if cfg != nil {
		if cfg.Log.Format != "" {
			s.Format = cfg.Log.Format
		}
		if cfg.Log.Level != "" {
			s.Level = cfg.Log.Level
		}
	}
	getenv := env.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := strings.TrimSpace(getenv(envLogFormat)); v != "" {
		if validLogFormat(v) {
			s.Format = v
		} else {
			problems = append(problems, fmt.Sprintf("%s=%q is not a log format; use auto, text or json", envLogFormat, v))
		}
	}
	if v := strings.TrimSpace(getenv(envLogLevel)); v != "" {
		if _, ok := parseLevel(v); ok {
			s.Level = v
		} else {
			problems = append(problems, fmt.Sprintf("%s=%q is not a log level; use debug, info, warn or error", envLogLevel, v))
		}
	}
	return s, problems
}

func validLogFormat(f string) bool { return f == "auto" || f == "text" || f == "json" }

func parseLevel(s string) (slog.Level, bool) {
	switch s {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// buildLogger returns a logger writing to w in the given settings' format:
// "auto" is text when w is a terminal and JSON otherwise.
func buildLogger(w io.Writer, s logSettings) *slog.Logger {
	lvl, _ := parseLevel(s.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	format := s.Format
	if format == "auto" || format == "" {
		format = "json"
		if isTTY(w) {
			format = "text"
		}
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// isTTY reports whether w is a terminal (a character device), regardless of
// NO_COLOR.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// colorEnabled reports whether output to w gets ANSI colours: w is a
// terminal, NO_COLOR is unset or empty (https://no-color.org) and TERM is not
// "dumb".
func (env *environment) colorEnabled(w io.Writer) bool {
	return isTTY(w) && env.getenv("NO_COLOR") == "" && env.getenv("TERM") != "dumb"
}

// pollProgress returns a WaitOptions.OnPoll that prints one progress line
// per poll of a long-running job on stderr, or nil when stderr is not a
// terminal (logs already carry the outcome of every step).
func pollProgress(env *environment, pipelineName string) func(spconfig.Job) {
	if !isTTY(env.stderr) {
		return nil
	}
	var mu sync.Mutex
	started := map[string]time.Time{}
	return func(j spconfig.Job) {
		mu.Lock()
		defer mu.Unlock()
		t0, ok := started[j.JobID]
		if !ok {
			t0 = time.Now()
			started[j.JobID] = t0
		}
		typ := strings.ToLower(j.Type)
		if typ == "" {
			typ = "job"
		}
		fmt.Fprintf(env.stderr, "  %s: %s job %s %s (%s)\n", pipelineName, typ, j.JobID, j.Status, time.Since(t0).Round(time.Second))
	}
}
