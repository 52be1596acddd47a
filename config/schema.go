package config

import (
	"errors"
	"fmt"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"promoter/spconfig"
)

// The schema of promotion.yaml: the structs below, whose yaml tags are the
// file's keys, and the accessors the flows use.

// Config is a parsed and validated promotion.yaml.
type Config struct {
	Path          string             `yaml:"-"` // file it was loaded from
	Repo          Repo               `yaml:"repo"`
	Tenants       map[string]*Tenant `yaml:"tenants"`
	Pipelines     []*Pipeline        `yaml:"pipelines"`
	Serve         Serve              `yaml:"serve"`
	Notifications []Notification     `yaml:"notifications"`
	Log           Log                `yaml:"log"`

	// lines maps a field path (pipelines[0].gate.maxChanges) to the line of
	// its key in the file; empty for a Config built in code.
	lines map[string]int
}

// Repo is the git repository of object files.
type Repo struct {
	Path   string  `yaml:"path"`   // working copy; relative paths are relative to the config file
	Remote string  `yaml:"remote"` // optional; pushed to and pulled from
	Branch string  `yaml:"branch"` // default "main"
	Auth   GitAuth `yaml:"auth"`
	Author Author  `yaml:"author"` // commit author; default promoter <promoter@localhost>
	// Init lets promoter make a git repository of an existing folder that is
	// not empty and not one already (otherwise refused: it is most likely
	// the wrong folder).
	Init bool `yaml:"init"`
}

// GitAuth names where the git credential lives. TokenEnv and TokenFile
// are for https remotes (exactly one of them), SSHKeyFile for ssh remotes.
type GitAuth struct {
	TokenEnv   string `yaml:"tokenEnv"`
	TokenFile  string `yaml:"tokenFile"`
	Username   string `yaml:"username"` // sent with the token; default "x-access-token" when a token is set
	SSHKeyFile string `yaml:"sshKeyFile"`
}

// Author is the author and committer of promoter's commits.
type Author struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// Tenant is one ISC tenant. The client id and secret come from an
// environment variable or a file, never from the config itself.
type Tenant struct {
	Name             string `yaml:"-"` // map key
	BaseURL          string `yaml:"baseURL"`
	APIVersion       string `yaml:"apiVersion"` // beta | v2024 | v2025 (default) | v2026 | v1
	TokenURL         string `yaml:"tokenURL"`   // default BaseURL + "/oauth/token"
	ClientIDEnv      string `yaml:"clientIDEnv"`
	ClientIDFile     string `yaml:"clientIDFile"`
	ClientSecretEnv  string `yaml:"clientSecretEnv"`
	ClientSecretFile string `yaml:"clientSecretFile"`
	RateLimit        int    `yaml:"rateLimit"` // requests per 10 s sent by this client; 0: no client-side limit
}

// Pipeline is one promotion from a source tenant to a target tenant.
type Pipeline struct {
	Name         string      `yaml:"name"`
	Source       string      `yaml:"source"`
	Target       string      `yaml:"target"`
	Schedule     string      `yaml:"schedule"`     // standard 5-field cron, optional CRON_TZ= prefix; empty: only on demand
	IncludeTypes []string    `yaml:"includeTypes"` // default all exportable types
	ExcludeTypes []string    `yaml:"excludeTypes"`
	Exclude      []ObjectRef `yaml:"exclude"` // objects never promoted
	Mode         string      `yaml:"mode"`    // auto (default) | pull-request | manual
	Gate         Gate        `yaml:"gate"`
	Guard        Guard       `yaml:"guard"`
	Mappings     []Mapping   `yaml:"mappings"`
	Strip        []StripRule `yaml:"strip"`
	SecretScan   SecretScan  `yaml:"secretScan"`
	JobTimeout   Duration    `yaml:"jobTimeout"` // default 30m
	PullRequest  PullRequest `yaml:"pullRequest"`
	Deploy       Deploy      `yaml:"deploy"`
}

// Deploy chooses the channels of a pipeline's objects.
type Deploy struct {
	// ConfigurationHub deploys the changed objects of the 18 types SP-Config
	// cannot import through Configuration Hub (upload, draft, deploy), with
	// the same gate, verify and record as the import. Default off: they are
	// planned and reported, and plan --upload-file writes their document.
	ConfigurationHub bool `yaml:"configurationHub"`
}

// Modes of a pipeline.
const (
	ModeAuto        = "auto"         // import when the gate is clean
	ModePullRequest = "pull-request" // push a branch and open a pull request; apply on merge
	ModeManual      = "manual"       // commit the proposal; import only on `promoter apply`
)

// ObjectRef names objects by type and name. An empty Type matches every
// type; a Name wrapped in slashes (/^Test /) is a regular expression; a
// name may also be written "scope / name" for types whose names repeat.
type ObjectRef struct {
	Type string `yaml:"type"`
	Name string `yaml:"name"`

	re *regexp.Regexp
}

// Matches reports whether the reference matches an object of type typ named
// name (scope is the disambiguating scope of repeating names, or "").
func (o ObjectRef) Matches(typ, scope, name string) bool {
	if o.Type != "" && o.Type != typ {
		return false
	}
	return matchObjectName(o.Name, o.re, scope, name)
}

func matchObjectName(pattern string, re *regexp.Regexp, scope, name string) bool {
	if pattern == "" {
		return true
	}
	full := name
	if scope != "" {
		full = scope + " / " + name
	}
	if IsRegexpName(pattern) {
		if re == nil {
			var err error
			if re, err = regexp.Compile(pattern[1 : len(pattern)-1]); err != nil {
				return false
			}
		}
		return re.MatchString(name) || re.MatchString(full)
	}
	return pattern == name || pattern == full
}

// IsRegexpName reports whether an object name pattern is a regular
// expression (wrapped in slashes: /^Test /).
func IsRegexpName(s string) bool {
	return len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/")
}

// Gate is the policy a preview must pass before the real import.
type Gate struct {
	AllowWarnings []string     `yaml:"allowWarnings"` // regexps matched against preview warning texts
	MaxChanges    int          `yaml:"maxChanges"`    // default 50; 0 means default; -1 = unlimited
	OnDrift       string       `yaml:"onDrift"`       // block (default) | overwrite
	DenyWindows   []DenyWindow `yaml:"denyWindows"`   // no import while a window is open
	// LeakPatterns are regexps the environment-leak guard looks for in the
	// import payload, besides the source tenant's host and org name and every
	// mapping's from (leak.go).
	LeakPatterns []string `yaml:"leakPatterns"`
	// AllowLeaks are the places where a source-tenant fingerprint is accepted.
	AllowLeaks []LeakAllowance `yaml:"allowLeaks"`

	allow []*regexp.Regexp
	leaks []*regexp.Regexp
}

// LeakAllowance accepts a source-tenant fingerprint at one JSON path of the
// objects it names (type and name as in exclude; a name may be /re/).
type LeakAllowance struct {
	Type string `yaml:"type"`
	Name string `yaml:"name"`
	Path string `yaml:"path"`

	re *regexp.Regexp
}

// Allows reports whether the allowance covers the object and path (paths
// compare by meaning: $.a.b equals $['a']['b']).
func (a LeakAllowance) Allows(k spconfig.Key, path string) bool {
	if (a.Type != "" && a.Type != k.Type) || !matchObjectName(a.Name, a.re, k.Scope, k.Name) {
		return false
	}
	segs, err := ParsePath(a.Path)
	return err == nil && FormatPath(segs) == path
}

// LeakRegexps returns the compiled gate.leakPatterns.
func (g *Gate) LeakRegexps() []*regexp.Regexp {
	if g.leaks == nil {
		for _, s := range g.LeakPatterns {
			if re, err := regexp.Compile(s); err == nil {
				g.leaks = append(g.leaks, re)
			}
		}
	}
	return g.leaks
}

// Drift policies.
const (
	DriftBlock     = "block"
	DriftOverwrite = "overwrite"
)

// WarningAllowed reports whether a preview warning text matches the allow-list.
func (g *Gate) WarningAllowed(text string) bool {
	if g.allow == nil {
		for _, s := range g.AllowWarnings {
			if re, err := regexp.Compile(s); err == nil {
				g.allow = append(g.allow, re)
			}
		}
	}
	for _, re := range g.allow {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}

// ChangeLimit returns the change budget and whether there is one (MaxChanges -1: none).
func (g Gate) ChangeLimit() (int, bool) {
	if g.MaxChanges < 0 {
		return 0, false
	}
	if g.MaxChanges == 0 {
		return defaultMaxChanges, true
	}
	return g.MaxChanges, true
}

// OpenDenyWindow returns the first deny window open at now and when it closes.
func (g Gate) OpenDenyWindow(now time.Time) (w DenyWindow, closes time.Time, open bool) {
	for _, w := range g.DenyWindows {
		if end, ok := w.OpenAt(now); ok {
			return w, end, true
		}
	}
	return DenyWindow{}, time.Time{}, false
}

// DenyWindow is a period during which no import happens: it opens at every
// time its cron spec fires and stays open for Duration.
type DenyWindow struct {
	Cron     string   `yaml:"cron"`
	Duration Duration `yaml:"duration"`

	sched cron.Schedule
}

// OpenAt reports whether the window is open at now and, if so, when it closes.
// The window is open when it started in (now-Duration, now].
func (w DenyWindow) OpenAt(now time.Time) (closes time.Time, open bool) {
	sched := w.sched
	if sched == nil {
		var err error
		if sched, err = ParseCron(w.Cron); err != nil {
			return time.Time{}, false
		}
	}
	if w.Duration.Duration <= 0 {
		return time.Time{}, false
	}
	start := sched.Next(now.Add(-w.Duration.Duration))
	if start.IsZero() || start.After(now) {
		return time.Time{}, false
	}
	return start.Add(w.Duration.Duration), true
}

// Guard protects the snapshot from exports that lost objects.
type Guard struct {
	MaxDropPercent float64 `yaml:"maxDropPercent"` // refuse an export dropping more than this share of any type's objects; default 20
	MinObjects     int     `yaml:"minObjects"`     // refuse an export with fewer objects in total; 0: no minimum
}

// Mapping replaces a string value when an object is copied into the target
// folder: at Path inside the object (type Type, name Name; empty Name: every
// object of the type, /re/: a regexp) the value From becomes To.
type Mapping struct {
	Type string `yaml:"type"`
	Name string `yaml:"name"`
	Path string `yaml:"path"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// Optional lets the path be absent or hold another value; otherwise a
	// payload object the mapping matches whose path holds neither From nor
	// To blocks the gate (the source value changed and the mapping no
	// longer applies).
	Optional bool `yaml:"optional"`
}

// Segments parses the mapping's path.
func (m Mapping) Segments() ([]PathSegment, error) { return ParsePath(m.Path) }

// Matches reports whether the mapping applies to an object.
func (m Mapping) Matches(typ, scope, name string) bool {
	return m.Type == typ && matchObjectName(m.Name, nil, scope, name)
}

// StripRule removes a field from every object of Type (empty: every
// unsigned type) before it is written to a file. Signed objects are never
// stripped.
type StripRule struct {
	Type string `yaml:"type"`
	Path string `yaml:"path"`
}

// Segments parses the rule's path.
func (s StripRule) Segments() ([]PathSegment, error) { return ParsePath(s.Path) }

// SecretScan is the scan of exported content for credential-looking
// fields (password, secret, private key, token) before it is committed.
type SecretScan struct {
	Action string   `yaml:"action"` // refuse (default) | redact | off
	Keys   []string `yaml:"keys"`   // extra field-name regexps treated as credentials

	keys []*regexp.Regexp
}

// Secret scan actions.
const (
	ScanRefuse = "refuse"
	ScanRedact = "redact"
	ScanOff    = "off"
)

// KeyPatterns returns the compiled extra key patterns.
func (s *SecretScan) KeyPatterns() []*regexp.Regexp {
	if s.keys == nil {
		for _, k := range s.Keys {
			if re, err := regexp.Compile(k); err == nil {
				s.keys = append(s.keys, re)
			}
		}
	}
	return s.keys
}

// PullRequest is where pull-request mode opens its pull requests.
type PullRequest struct {
	Provider     string `yaml:"provider"`     // github | gitlab | none (push the branch only)
	Repo         string `yaml:"repo"`         // "owner/name" (GitHub) or project id or path (GitLab)
	BaseURL      string `yaml:"baseURL"`      // API root; default https://api.github.com or https://gitlab.com/api/v4
	TokenEnv     string `yaml:"tokenEnv"`     // variable holding the API token
	BranchPrefix string `yaml:"branchPrefix"` // default "promoter/"; the branch is prefix + pipeline name
}

// Serve is the daemon (`promoter serve`).
type Serve struct {
	Listen           string `yaml:"listen"`           // default ":8080"
	TriggerTokenEnv  string `yaml:"triggerTokenEnv"`  // bearer token for POST /api/pipelines/{name}/run; unset: trigger disabled
	TriggerTokenFile string `yaml:"triggerTokenFile"` // alternative to triggerTokenEnv
}

// Notification is one notification receiver.
type Notification struct {
	Type   string   `yaml:"type"`   // webhook | slack
	URL    string   `yaml:"url"`    // or urlEnv when the URL is a secret (Slack webhooks are)
	URLEnv string   `yaml:"urlEnv"` //
	Events []string `yaml:"events"` // blocked, promoted, drift, rollback, failed; default all
}

// notificationEvents are the events a notification can subscribe to.
var notificationEvents = []string{"blocked", "promoted", "drift", "rollback", "failed"}

// NotificationEvents returns the events a notification can subscribe to;
// the slice is the caller's.
func NotificationEvents() []string { return slices.Clone(notificationEvents) }

// Log is how promoter logs.
type Log struct {
	Format string `yaml:"format"` // auto (default: text on a terminal, JSON otherwise) | text | json
	Level  string `yaml:"level"`  // debug | info (default) | warn | error
}

// SlogLevel returns the level as a slog.Level (info when unset or unknown).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Duration is a time.Duration written as "30m" or "62h" in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML decodes a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("must be a duration such as 30m or 62h")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration; write it as 90s, 30m or 62h", n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML encodes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Defaults.
const (
	defaultBranch         = "main"
	defaultAPIVersion     = "v2025"
	defaultMaxChanges     = 50
	defaultMaxDropPercent = 20
	defaultJobTimeout     = 30 * time.Minute
	defaultListen         = ":8080"
	defaultBranchPrefix   = "promoter/"
	defaultGitUsername    = "x-access-token"
	maxConfigSize         = 4 << 20
)

// apiVersions are the accepted tenant apiVersion values.
var apiVersions = []string{"beta", "v2024", "v2025", "v2026", "v1"}

// APIVersions returns the accepted tenant apiVersion values; the slice is
// the caller's.
func APIVersions() []string { return slices.Clone(apiVersions) }

// Types returns the object types the pipeline exports: includeTypes minus
// excludeTypes, in the API's order.
func (p *Pipeline) Types() []string {
	inc := p.IncludeTypes
	if len(inc) == 0 {
		inc = spconfig.ExportableTypes()
	}
	var out []string
	for _, t := range spconfig.ExportableTypes() {
		if slices.Contains(inc, t) && !slices.Contains(p.ExcludeTypes, t) {
			out = append(out, t)
		}
	}
	return out
}

// Excluded reports whether policy keeps an object out of promotion.
func (p *Pipeline) Excluded(typ, scope, name string) bool {
	for _, x := range p.Exclude {
		if x.Matches(typ, scope, name) {
			return true
		}
	}
	return false
}

// Pipeline returns the pipeline named name; "" selects the only pipeline.
func (c *Config) Pipeline(name string) (*Pipeline, error) {
	names := make([]string, 0, len(c.Pipelines))
	for _, p := range c.Pipelines {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	if name == "" {
		if len(c.Pipelines) == 1 {
			return c.Pipelines[0], nil
		}
		return nil, fmt.Errorf("config %s: it defines %d pipelines (%s); choose one with --pipeline NAME", c.Path, len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("config %s: no pipeline named %q; defined pipelines: %s", c.Path, name, strings.Join(names, ", "))
}

// Tenant returns the tenant named name, or nil.
func (c *Config) Tenant(name string) *Tenant { return c.Tenants[name] }

// RepoPath is the folder of the repository: repo.path, which Load has made
// absolute against the configuration file's folder (issue 14: joining the
// folder again here opened dir/dir/isc-config for --config dir/promotion.yaml).
// A Config from Parse keeps repo.path as written.
func (c *Config) RepoPath() string { return c.Repo.Path }
