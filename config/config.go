package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // CRON_TZ zones must resolve in minimal containers without /usr/share/zoneinfo
	"unicode/utf8"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"promoter/jsonspan"
	"promoter/spconfig"
)

// This file owns promotion.yaml: its schema (the structs below, whose yaml
// tags are the file's keys), strict decoding with line numbers, defaults
// (applyDefaults, the only place defaults are set), validation and secret
// resolution. Secrets never live in the file: it names environment variables
// or files that hold them.

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

// RepoConfig is the git repository of object files.
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

// GitAuthConfig names where the git credential lives. TokenEnv and TokenFile
// are for https remotes (exactly one of them), SSHKeyFile for ssh remotes.
type GitAuth struct {
	TokenEnv   string `yaml:"tokenEnv"`
	TokenFile  string `yaml:"tokenFile"`
	Username   string `yaml:"username"` // sent with the token; default "x-access-token" when a token is set
	SSHKeyFile string `yaml:"sshKeyFile"`
}

// AuthorConfig is the author and committer of promoter's commits.
type Author struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// TenantConfig is one ISC tenant. The client id and secret come from an
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

// PipelineConfig is one promotion from a source tenant to a target tenant.
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

// DeployConfig chooses the channels of a pipeline's objects.
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

func IsRegexpName(s string) bool {
	return len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/")
}

// GateConfig is the policy a preview must pass before the real import.
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

// GuardConfig protects the snapshot from exports that lost objects.
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

// SecretScanConfig is the scan of exported content for credential-looking
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

// PullRequestConfig is where pull-request mode opens its pull requests.
type PullRequest struct {
	Provider     string `yaml:"provider"`     // github | gitlab | none (push the branch only)
	Repo         string `yaml:"repo"`         // "owner/name" (GitHub) or project id or path (GitLab)
	BaseURL      string `yaml:"baseURL"`      // API root; default https://api.github.com or https://gitlab.com/api/v4
	TokenEnv     string `yaml:"tokenEnv"`     // variable holding the API token
	BranchPrefix string `yaml:"branchPrefix"` // default "promoter/"; the branch is prefix + pipeline name
}

// ServeConfig is the daemon (`promoter serve`).
type Serve struct {
	Listen           string `yaml:"listen"`           // default ":8080"
	TriggerTokenEnv  string `yaml:"triggerTokenEnv"`  // bearer token for POST /api/pipelines/{name}/run; unset: trigger disabled
	TriggerTokenFile string `yaml:"triggerTokenFile"` // alternative to triggerTokenEnv
}

// NotificationConfig is one notification receiver.
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

// LogConfig is how promoter logs.
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

// Problem is one configuration problem.
type Problem struct {
	Line int    // 1-based line in the file; 0 when unknown
	Path string // field path, e.g. pipelines[0].gate.maxChanges
	Msg  string
}

func (p Problem) String() string {
	s := ""
	if p.Line > 0 {
		s = strconv.Itoa(p.Line) + ": "
	}
	if p.Path != "" {
		s += p.Path + ": "
	}
	return s + p.Msg
}

// ConfigError lists every problem found in a configuration file.
type Error struct {
	File     string
	Problems []Problem
}

// Error prints one problem per line as "file:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Msg)
	}
	if len(e.Problems) == 0 {
		b.WriteString(e.File + ": invalid configuration")
	}
	return b.String()
}

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
// validates it. Every problem found is returned in one *ConfigError.
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

// secondDocument returns the line of a second YAML document, or 0.
func secondDocument(data []byte) int {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var first, second yaml.Node
	if dec.Decode(&first) != nil {
		return 0
	}
	if err := dec.Decode(&second); err != nil {
		return 0
	}
	if second.Line > 0 {
		return second.Line
	}
	return 1
}

var (
	yamlLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// yamlProblem turns a yaml.v3 syntax error into a problem with its line.
// yaml.v3 reports parser errors with a 0-based line and omits "line 0", so
// the line is corrected here; errors without a position are located in data.
func yamlProblem(err error, data []byte) Problem {
	const hint = " (check indentation, quoting and brackets)"
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if isParserProblem(m[2]) {
			n++
			// yaml.v3 reports a parser problem at the start of the enclosing
			// block (its context mark); name the problem's own line too.
			if p := problemLine(data, n, m[2]); p > n {
				return Problem{Line: p, Msg: fmt.Sprintf("YAML syntax: %s (in the block that starts at line %d)%s", m[2], n, hint)}
			}
		}
		return Problem{Line: n, Msg: "YAML syntax: " + m[2] + hint}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 1
	switch {
	case yamlAnchor.MatchString(err.Error()):
		name := yamlAnchor.FindStringSubmatch(err.Error())[1]
		line = lineOf(data, strings.Index(string(data), "*"+name))
		msg = fmt.Sprintf("alias *%s refers to an anchor &%s that is not defined before it", name, name)
		return Problem{Line: line, Msg: "YAML: " + msg}
	case strings.Contains(msg, "control characters"):
		line = lineOf(data, strings.IndexFunc(string(data), func(r rune) bool {
			return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f && r != 0x85)
		}))
	case strings.Contains(msg, "UTF-8") || strings.Contains(msg, "Unicode"):
		line = lineOf(data, invalidUTF8(data))
	}
	return Problem{Line: line, Msg: "YAML syntax: " + msg + hint}
}

// problemLine finds the line of a parser problem reported at line from (the
// start of its block): the first line from there whose addition makes a
// parsable prefix of the document fail with the same message. 0 when there
// is none (the problem spans lines, as an unclosed bracket does).
func problemLine(data []byte, from int, msg string) int {
	lines := strings.SplitAfter(string(data), "\n")
	parses := func(n int) (bool, string) {
		var node yaml.Node
		if err := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &node); err != nil {
			return false, err.Error()
		}
		return true, ""
	}
	prevOK, _ := parses(max(from-1, 0))
	for n := max(from, 1); n <= len(lines) && n < from+2000; n++ {
		ok, errMsg := parses(n)
		if prevOK && !ok && strings.HasSuffix(errMsg, msg) {
			return n
		}
		prevOK = ok
	}
	return 0
}

func isParserProblem(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// lineOf returns the 1-based line of byte offset off (0 when off < 0).
func lineOf(data []byte, off int) int {
	if off < 0 || off > len(data) {
		return 0
	}
	return 1 + strings.Count(string(data[:off]), "\n")
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 {
			li = 1 << 30
		}
		if lj == 0 {
			lj = 1 << 30
		}
		return li < lj
	})
}

// decoder decodes a yaml.Node tree into the config structs by reflection,
// recording the line of every key and a problem for every unknown key,
// duplicate key and wrong type, instead of stopping at the first.
type decoder struct {
	lines    map[string]int
	problems []Problem
	bad      []string // paths with a decoding problem (their validation problems are redundant)
	nodes    int
	tooBig   bool
}

const (
	maxDepth = 50
	maxNodes = 200000 // bounds alias expansion ("billion laughs")
)

func (d *decoder) fail(n *yaml.Node, path, msg string) {
	d.problems = append(d.problems, Problem{Line: n.Line, Path: path, Msg: msg})
	d.bad = append(d.bad, path)
}

// covered reports whether a validation problem at path repeats a decoding problem.
func (d *decoder) covered(path string) bool {
	for _, b := range d.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	durationType = reflect.TypeFor[Duration]()
	kindNames    = map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value", yaml.DocumentNode: "a document", yaml.AliasNode: "an alias"}
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	d.nodes++
	if d.nodes > maxNodes || depth > maxDepth {
		if !d.tooBig {
			d.tooBig = true
			d.fail(n, path, "the document is nested too deeply or expands too many aliases; simplify it")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "alias to an unknown anchor")
			return
		}
		d.decode(n.Alias, v, path, depth+1)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // key present without a value: keep the zero value (and defaults)
	}
	if v.Type() == durationType {
		var dur Duration
		if err := dur.UnmarshalYAML(n); err != nil {
			d.fail(n, path, err.Error())
			return
		}
		v.Set(reflect.ValueOf(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, depth)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, fmt.Sprintf("must be a mapping of keys (%s), not %s", strings.Join(yamlKeys(v.Type()), ", "), kindNames[n.Kind]))
			return
		}
		fields := map[string]int{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" && f.IsExported() {
				fields[tag] = i
			}
		}
		d.mapping(n, path, depth, func(k, val *yaml.Node) {
			key := k.Value
			i, ok := fields[key]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", key)
				if s := Suggest(key, yamlKeys(v.Type())); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; valid keys here: " + strings.Join(yamlKeys(v.Type()), ", ")
				}
				d.problems = append(d.problems, Problem{Line: k.Line, Path: join(path, key), Msg: msg})
				return
			}
			p := join(path, key)
			d.lines[p] = k.Line
			d.decode(val, v.Field(i), p, depth+1)
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, fmt.Sprintf("must be a mapping of names to settings, not %s", kindNames[n.Kind]))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.mapping(n, path, depth, func(k, val *yaml.Node) {
			p := join(path, k.Value)
			d.lines[p] = k.Line
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, p, depth+1)
			v.SetMapIndex(reflect.ValueOf(k.Value), ev)
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, fmt.Sprintf("must be a list, not %s", kindNames[n.Kind]))
			return
		}
		s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(item, ev, p, depth+1)
			s = reflect.Append(s, ev)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, fmt.Sprintf("must be a single value (a string), not %s", kindNames[n.Kind]))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, fmt.Sprintf("must be a whole number, not %s", kindNames[n.Kind]))
			return
		}
		var x int
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, fmt.Sprintf("must be a whole number, not %q", n.Value))
			return
		}
		v.SetInt(int64(x))
	case reflect.Bool:
		var x bool
		if n.Kind != yaml.ScalarNode || n.Decode(&x) != nil {
			d.fail(n, path, fmt.Sprintf("must be true or false, not %q", n.Value))
			return
		}
		v.SetBool(x)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, fmt.Sprintf("must be a number, not %s", kindNames[n.Kind]))
			return
		}
		var x float64
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, fmt.Sprintf("must be a number, not %q", n.Value))
			return
		}
		v.SetFloat(x)
	default:
		d.fail(n, path, "cannot be decoded (internal: unsupported field type "+v.Type().String()+")")
	}
}

type keyValue struct{ k, v *yaml.Node }

// mapping calls fn for every key of a mapping node, in order, after the keys
// merged in with "<<" (explicit keys win). Duplicate keys are problems.
func (d *decoder) mapping(n *yaml.Node, path string, depth int, fn func(k, v *yaml.Node)) {
	var explicit, merged []keyValue
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key must be a plain name, not "+kindNames[k.Kind])
			continue
		}
		if k.Tag == "!!merge" {
			merged = append(merged, d.mergeSources(v, path, depth)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.problems = append(d.problems, Problem{Line: k.Line, Path: join(path, k.Value),
				Msg: fmt.Sprintf("key %q is already defined at line %d; keep one of them", k.Value, first)})
			continue
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, keyValue{k, v})
	}
	for _, m := range merged {
		if _, ok := seen[m.k.Value]; !ok {
			seen[m.k.Value] = m.k.Line
			fn(m.k, m.v)
		}
	}
	for _, e := range explicit {
		fn(e.k, e.v)
	}
}

// mergeSources returns the key/value pairs a "<<" merge brings in.
func (d *decoder) mergeSources(v *yaml.Node, path string, depth int) []keyValue {
	var out []keyValue
	var add func(n *yaml.Node, depth int)
	add = func(n *yaml.Node, depth int) {
		d.nodes++
		if depth > maxDepth || d.nodes > maxNodes {
			return
		}
		switch {
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			add(n.Alias, depth+1)
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Tag != "!!merge" {
					out = append(out, keyValue{n.Content[i], n.Content[i+1]})
				}
			}
		case n.Kind == yaml.SequenceNode && depth == 0:
			for _, c := range n.Content {
				add(c, depth+1)
			}
		default:
			d.fail(n, path, "<< must merge a mapping (an alias such as *defaults) or a list of them")
		}
	}
	add(v, 0)
	return out
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" && f.IsExported() {
			keys = append(keys, tag)
		}
	}
	return keys
}

// suggest returns the known key closest to key (case-insensitive equal or
// at most two edits away), or "".
func Suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k
		}
		if len(key) >= 4 && strings.HasPrefix(strings.ToLower(k), strings.ToLower(key)) && bestD > 0 {
			best, bestD = k, 0
			continue
		}
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// has reports whether the file set the key at path.
func (c *Config) has(path string) bool { _, ok := c.lines[path]; return ok }

// applyDefaults fills every default. It is the only place defaults are set.
func (c *Config) applyDefaults() {
	if c.Repo.Branch == "" {
		c.Repo.Branch = defaultBranch
	}
	if c.Repo.Auth.Username == "" && (c.Repo.Auth.TokenEnv != "" || c.Repo.Auth.TokenFile != "") {
		c.Repo.Auth.Username = defaultGitUsername
	}
	if c.Repo.Author.Name == "" {
		c.Repo.Author.Name = "promoter"
	}
	if c.Repo.Author.Email == "" {
		c.Repo.Author.Email = "promoter@localhost"
	}
	for name, t := range c.Tenants {
		if t == nil {
			t = &Tenant{}
			c.Tenants[name] = t
		}
		t.Name = name
		if t.APIVersion == "" {
			t.APIVersion = defaultAPIVersion
		}
		if t.BaseURL != "" {
			t.BaseURL = strings.TrimRight(t.BaseURL, "/")
		}
		if t.TokenURL == "" && t.BaseURL != "" {
			t.TokenURL = t.BaseURL + "/oauth/token"
		}
	}
	for i, p := range c.Pipelines {
		if p == nil {
			p = &Pipeline{}
			c.Pipelines[i] = p
		}
		path := fmt.Sprintf("pipelines[%d]", i)
		if len(p.IncludeTypes) == 0 {
			p.IncludeTypes = slices.Clone(spconfig.ExportableTypes())
		}
		if p.Mode == "" {
			p.Mode = ModeAuto
		}
		if p.Gate.MaxChanges == 0 {
			p.Gate.MaxChanges = defaultMaxChanges
		}
		if p.Gate.OnDrift == "" {
			p.Gate.OnDrift = DriftBlock
		}
		// maxDropPercent: 0 written in the file means "no drop allowed".
		if p.Guard.MaxDropPercent == 0 && !c.has(path+".guard.maxDropPercent") {
			p.Guard.MaxDropPercent = defaultMaxDropPercent
		}
		if p.SecretScan.Action == "" {
			p.SecretScan.Action = ScanRefuse
		}
		if p.JobTimeout.Duration == 0 {
			p.JobTimeout.Duration = defaultJobTimeout
		}
		pr := &p.PullRequest
		if pr.BranchPrefix == "" {
			pr.BranchPrefix = defaultBranchPrefix
		}
		if pr.BaseURL == "" {
			switch pr.Provider {
			case "github":
				pr.BaseURL = "https://api.github.com"
			case "gitlab":
				pr.BaseURL = "https://gitlab.com/api/v4"
			}
		}
	}
	if c.Serve.Listen == "" {
		c.Serve.Listen = defaultListen
	}
	for i := range c.Notifications {
		if len(c.Notifications[i].Events) == 0 {
			c.Notifications[i].Events = slices.Clone(notificationEvents)
		}
	}
	if c.Log.Format == "" {
		c.Log.Format = "auto"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
}

// validator collects problems with the line of their path.
type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: v.c.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// where names a key of the file for messages: "pipelines[0].mappings[1]
// (line 18)"; sub is the path inside pipeline p. The line is left out for a
// Config built in code.
func (c *Config) Where(p *Pipeline, sub string) string {
	path := sub
	if c != nil {
		for i, q := range c.Pipelines {
			if q == p {
				path = fmt.Sprintf("pipelines[%d].%s", i, sub)
			}
		}
		if l := c.line(path); l > 0 {
			return fmt.Sprintf("%s (line %d)", path, l)
		}
	}
	return path
}

// line returns the line of path's key, or of its nearest present parent.
func (c *Config) line(path string) int {
	for path != "" {
		if l, ok := c.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate applies the defaults (idempotent, so a Config built in code
// validates like a parsed one), checks the configuration and returns a
// *ConfigError listing every problem, or nil.
func (c *Config) Validate() error {
	c.applyDefaults()
	v := &validator{c: c}
	c.validateRepo(v)
	if len(c.Tenants) == 0 {
		v.add("tenants", "no tenant is defined; add the source and target tenants (name: {baseURL, clientIDEnv, clientSecretEnv})")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Tenants)) {
		c.validateTenant(v, name, c.Tenants[name])
	}
	if len(c.Pipelines) == 0 {
		v.add("pipelines", "no pipeline is defined; add one with name, source and target")
	}
	seen := map[string]int{}
	for i, p := range c.Pipelines {
		path := fmt.Sprintf("pipelines[%d]", i)
		if p == nil {
			v.add(path, "empty pipeline; give it a name, source and target")
			continue
		}
		if j, dup := seen[p.Name]; dup && p.Name != "" {
			v.add(path+".name", "pipeline name %q is already used by pipelines[%d] (line %d); pipeline names must be unique", p.Name, j, c.line(fmt.Sprintf("pipelines[%d].name", j)))
		} else {
			seen[p.Name] = i
		}
		c.validatePipeline(v, path, p)
	}
	c.validateScopes(v)
	c.validateServe(v)
	for i := range c.Notifications {
		c.validateNotification(v, fmt.Sprintf("notifications[%d]", i), &c.Notifications[i])
	}
	if !slices.Contains([]string{"auto", "text", "json"}, c.Log.Format) {
		v.add("log.format", "unknown log format %q; use auto, text or json", c.Log.Format)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.add("log.level", "unknown log level %q; use debug, info, warn or error", c.Log.Level)
	}
	if len(v.problems) == 0 {
		return nil
	}
	sortProblems(v.problems)
	return &Error{File: c.Path, Problems: v.problems}
}

func (c *Config) validateRepo(v *validator) {
	r := &c.Repo
	if r.Path == "" {
		v.add("repo.path", "required: the folder of the git working copy (created if missing), e.g. ./isc-config")
	}
	if r.Remote != "" {
		if msg := checkRemote(r.Remote); msg != "" {
			v.add("repo.remote", "%s", msg)
		}
	}
	if !validRefName(r.Branch) {
		v.add("repo.branch", "%q is not a valid git branch name", r.Branch)
	}
	a := r.Auth
	if a.TokenEnv != "" && a.TokenFile != "" {
		v.add("repo.auth", "set tokenEnv or tokenFile, not both")
	}
	if a.TokenEnv != "" && !envVarRE.MatchString(a.TokenEnv) {
		v.add("repo.auth.tokenEnv", "%s", badEnvName(a.TokenEnv))
	}
	if a.SSHKeyFile != "" && (a.TokenEnv != "" || a.TokenFile != "") {
		v.add("repo.auth", "set a token (https remotes) or sshKeyFile (ssh remotes), not both")
	}
	if (a.TokenEnv != "" || a.TokenFile != "" || a.SSHKeyFile != "") && r.Remote == "" {
		v.add("repo.auth", "credentials are configured but repo.remote is empty; set the remote or remove auth")
	}
	if strings.ContainsAny(r.Author.Email, "<>\n") || !strings.Contains(r.Author.Email, "@") {
		v.add("repo.author.email", "%q is not an email address", r.Author.Email)
	}
	if strings.ContainsAny(r.Author.Name, "<>\n") {
		v.add("repo.author.name", "must not contain <, > or a line break")
	}
}

// checkRemote returns a problem with a git remote, or "".
func checkRemote(remote string) string {
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil {
			return fmt.Sprintf("not a valid URL: %v", errors.Unwrap(err))
		}
		if u.User != nil {
			if _, hasPw := u.User.Password(); hasPw {
				return "the URL contains a password; remove it and set repo.auth.tokenEnv instead"
			}
		}
		switch u.Scheme {
		case "https", "ssh", "file":
		case "git":
			return "git:// is neither encrypted nor authenticated (anyone on the path can read or change what promoter pulls); use https:// or ssh://"
		case "http":
			if !IsLoopback(u.Hostname()) {
				return "http:// is only accepted for loopback hosts; use https:// or ssh://"
			}
		default:
			return fmt.Sprintf("unsupported scheme %q; use https://, ssh://, git@host:path or a local path", u.Scheme)
		}
	}
	return ""
}

// validRefName reports whether s may be a git ref component path (branch).
func validRefName(s string) bool {
	if s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") ||
		strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") || strings.Contains(s, "..") ||
		strings.Contains(s, "//") || strings.Contains(s, "@{") || s == "@" {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return false
		}
	}
	for _, part := range strings.Split(s, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	return true
}

// validName checks a tenant or pipeline name, which becomes a folder and a
// git ref component. It returns a problem or "".
func validName(kind, s string) string {
	if !nameRE.MatchString(s) || strings.Contains(s, "..") || strings.HasSuffix(s, ".") || strings.HasSuffix(s, ".lock") {
		return fmt.Sprintf("%s name %q is invalid: use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (it becomes a folder and a git ref name)", kind, s)
	}
	return ""
}

func badEnvName(s string) string {
	return fmt.Sprintf("%q is not an environment variable name (letters, digits and _); name the variable that holds the value, never the value itself", s)
}

func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkURL checks an http(s) URL: absolute, https unless the host is
// loopback. It returns a problem or "".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Sprintf("%q is not an absolute http(s) URL; write it as https://host", raw)
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Sprintf("%q uses http://, which is only accepted for loopback hosts (127.0.0.1, ::1, localhost); use https://", raw)
	}
	if u.User != nil {
		return fmt.Sprintf("the URL must not contain credentials (%s://user@...); use the variables for secrets", u.Scheme)
	}
	return ""
}

func (c *Config) validateTenant(v *validator, name string, t *Tenant) {
	path := "tenants." + name
	if msg := validName("tenant", name); msg != "" {
		v.add(path, "%s", msg)
	}
	if t.BaseURL == "" {
		v.add(path+".baseURL", "required: the tenant's API host without a version, e.g. https://acme.api.identitynow.com")
	} else if msg := checkURL(t.BaseURL); msg != "" {
		v.add(path+".baseURL", "%s", msg)
	} else if u, _ := url.Parse(t.BaseURL); (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		v.add(path+".baseURL", "%q must be the host only, without a path, query or version (e.g. https://acme.api.identitynow.com, not .../v2025)", t.BaseURL)
	} else if api := apiHostOf(u.Hostname()); api != "" {
		v.add(path+".baseURL", "%s is the tenant's UI host; the API host is %s: set baseURL to https://%s", u.Hostname(), api, api)
	}
	if t.TokenURL != "" && (t.TokenURL != t.BaseURL+"/oauth/token" || checkURL(t.BaseURL) == "") {
		if msg := checkURL(t.TokenURL); msg != "" {
			v.add(path+".tokenURL", "%s", msg)
		}
	}
	if !slices.Contains(apiVersions, t.APIVersion) {
		v.add(path+".apiVersion", "unknown API version %q; use one of %s", t.APIVersion, strings.Join(apiVersions, ", "))
	}
	c.checkPair(v, path, "clientID", t.ClientIDEnv, t.ClientIDFile)
	c.checkPair(v, path, "clientSecret", t.ClientSecretEnv, t.ClientSecretFile)
	if t.RateLimit < 0 {
		v.add(path+".rateLimit", "must be 0 (no client-side limit) or a positive number of requests per 10 s")
	}
}

// apiHostOf returns the API host of an ISC UI host (acme.identitynow.com ->
// acme.api.identitynow.com), or "" when host is not a UI host.
func apiHostOf(host string) string {
	for _, domain := range []string{".identitynow.com", ".identitynow-demo.com"} {
		org, ok := strings.CutSuffix(strings.ToLower(host), domain)
		if ok && org != "" && !strings.Contains(org, ".") {
			return org + ".api" + domain
		}
	}
	return ""
}

// checkPair checks that exactly one of <what>Env and <what>File is set.
func (c *Config) checkPair(v *validator, path, what, env, file string) {
	switch {
	case env == "" && file == "":
		v.add(path+"."+what+"Env", "required: set %sEnv to the environment variable holding it (or %sFile to a file holding it)", what, what)
	case env != "" && file != "":
		v.add(path+"."+what+"File", "set %sEnv or %sFile, not both", what, what)
	case env != "" && !envVarRE.MatchString(env):
		v.add(path+"."+what+"Env", "%s", badEnvName(env))
	}
}

// parseCron parses a standard 5-field spec with an optional CRON_TZ= (or
// TZ=) prefix. robfig/cron panics on a zone prefix without a spec; this
// does not.
func ParseCron(spec string) (s cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if (strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")) && !strings.ContainsAny(spec, " \t") {
		return nil, errors.New("the time zone needs a schedule after it, e.g. CRON_TZ=Europe/Berlin 0 6 * * 1-5")
	}
	spec = strings.ReplaceAll(spec, "\t", " ")
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	s, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, errors.New("never fires (no matching date)")
	}
	return s, nil
}

const CronHelp = "write 5 fields (minute hour day-of-month month day-of-week), optionally after CRON_TZ=Zone, e.g. \"CRON_TZ=Europe/Berlin 0 6 * * 1-5\""

func (c *Config) validatePipeline(v *validator, path string, p *Pipeline) {
	if p.Name == "" {
		v.add(path+".name", "required: a name such as dev-to-prod")
	} else if msg := validName("pipeline", p.Name); msg != "" {
		v.add(path+".name", "%s", msg)
	}
	for _, side := range []struct{ key, val string }{{"source", p.Source}, {"target", p.Target}} {
		switch {
		case side.val == "":
			v.add(path+"."+side.key, "required: the name of a tenant under tenants")
		case c.Tenants[side.val] == nil:
			v.add(path+"."+side.key, "unknown tenant %q; defined tenants: %s", side.val, strings.Join(slices.Sorted(maps.Keys(c.Tenants)), ", "))
		}
	}
	if p.Source != "" && p.Source == p.Target {
		v.add(path+".target", "target is the same tenant as source (%q); a pipeline promotes between two tenants", p.Source)
	}
	if p.Schedule != "" {
		if _, err := ParseCron(p.Schedule); err != nil {
			v.add(path+".schedule", "bad cron spec %q: %v; %s", p.Schedule, err, CronHelp)
		}
	}
	checkTypes := func(key string, types []string) {
		seen := map[string]bool{}
		for i, t := range types {
			tp := fmt.Sprintf("%s.%s[%d]", path, key, i)
			if !spconfig.Exportable(t) {
				if hint := typeHint(t); hint != "" {
					v.add(tp, "unknown object type %q%s", t, hint)
				} else {
					v.add(tp, "unknown object type %q; the types are: %s", t, strings.Join(spconfig.ExportableTypes(), ", "))
				}
			} else if seen[t] {
				v.add(tp, "%s is listed twice", t)
			}
			seen[t] = true
		}
	}
	checkTypes("includeTypes", p.IncludeTypes)
	checkTypes("excludeTypes", p.ExcludeTypes)
	if len(p.IncludeTypes) > 0 && len(p.Types()) == 0 {
		v.add(path+".excludeTypes", "excludes every included type; the pipeline would export nothing")
	}
	for i := range p.Exclude {
		x := &p.Exclude[i]
		xp := fmt.Sprintf("%s.exclude[%d]", path, i)
		if x.Type == "" && x.Name == "" {
			v.add(xp, "set type, name or both (an empty entry would exclude every object)")
		}
		if x.Type != "" && !spconfig.Exportable(x.Type) {
			v.add(xp+".type", "unknown object type %q%s", x.Type, typeHint(x.Type))
		}
		x.re = nil
		if IsRegexpName(x.Name) {
			re, err := regexp.Compile(x.Name[1 : len(x.Name)-1])
			if err != nil {
				v.add(xp+".name", "bad regular expression %s: %v", x.Name, regexpErr(err))
			}
			x.re = re
		}
	}
	if !slices.Contains([]string{ModeAuto, ModePullRequest, ModeManual}, p.Mode) {
		v.add(path+".mode", "unknown mode %q; use auto, pull-request or manual", p.Mode)
	}
	c.validateGate(v, path+".gate", &p.Gate)
	g := p.Guard
	if g.MaxDropPercent < 0 || g.MaxDropPercent > 100 {
		v.add(path+".guard.maxDropPercent", "must be between 0 and 100 (percent of a type's objects an export may drop), got %v", g.MaxDropPercent)
	}
	if g.MinObjects < 0 {
		v.add(path+".guard.minObjects", "must be 0 or more, got %d", g.MinObjects)
	}
	for i, m := range p.Mappings {
		mp := fmt.Sprintf("%s.mappings[%d]", path, i)
		switch {
		case m.Type == "":
			v.add(mp+".type", "required: the object type the mapping applies to, e.g. SOURCE")
		case !spconfig.Exportable(m.Type):
			v.add(mp+".type", "unknown object type %q%s", m.Type, typeHint(m.Type))
		case spconfig.SignedType(m.Type):
			v.add(mp+".type", "%s objects are signed and must reach the target unmodified; remove this mapping (change the value in the source tenant instead)", m.Type)
		}
		if IsRegexpName(m.Name) {
			if _, err := regexp.Compile(m.Name[1 : len(m.Name)-1]); err != nil {
				v.add(mp+".name", "bad regular expression %s: %v", m.Name, regexpErr(err))
			}
		}
		checkObjectPath(v, mp+".path", m.Path)
		if m.From == "" {
			v.add(mp+".from", "required: the source tenant's value to replace")
		} else if m.From == m.To {
			v.add(mp+".to", "equals from (%q); the mapping would change nothing", m.From)
		}
	}
	for i, s := range p.Strip {
		sp := fmt.Sprintf("%s.strip[%d]", path, i)
		if s.Type != "" && !spconfig.Exportable(s.Type) {
			v.add(sp+".type", "unknown object type %q%s", s.Type, typeHint(s.Type))
		} else if spconfig.SignedType(s.Type) {
			v.add(sp+".type", "%s objects are signed; nothing may be stripped from them", s.Type)
		}
		checkObjectPath(v, sp+".path", s.Path)
	}
	sc := &p.SecretScan
	if !slices.Contains([]string{ScanRefuse, ScanRedact, ScanOff}, sc.Action) {
		v.add(path+".secretScan.action", "unknown action %q; use refuse, redact or off", sc.Action)
	}
	sc.keys = nil
	for i, k := range sc.Keys {
		re, err := regexp.Compile(k)
		if err != nil {
			v.add(fmt.Sprintf("%s.secretScan.keys[%d]", path, i), "bad regular expression %q: %v", k, regexpErr(err))
			continue
		}
		sc.keys = append(sc.keys, re)
	}
	if p.JobTimeout.Duration < 0 {
		v.add(path+".jobTimeout", "must be positive, e.g. 30m")
	}
	c.validatePullRequest(v, path+".pullRequest", p)
}

// validateScopes refuses two pipelines into one target whose types overlap:
// each would overwrite the other's values and drift reference.
func (c *Config) validateScopes(v *validator) {
	for j, q := range c.Pipelines {
		for i, p := range c.Pipelines[:j] {
			if p == nil || q == nil || p.Target == "" || p.Target != q.Target {
				continue
			}
			var both []string
			for _, t := range q.Types() {
				if slices.Contains(p.Types(), t) {
					both = append(both, t)
				}
			}
			if len(both) > 0 {
				v.add(fmt.Sprintf("pipelines[%d].target", j), "pipelines %q and %q (pipelines[%d]) both promote into %s and share the types %s; give each type to one pipeline with includeTypes or excludeTypes",
					q.Name, p.Name, i, q.Target, strings.Join(both, ", "))
			}
		}
	}
}

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

// typeHint suggests the right spelling of a type name.
func typeHint(t string) string {
	if s := Suggest(t, spconfig.ExportableTypes()); s != "" && s != t {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	return ""
}

func regexpErr(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code) + " in " + strconv.Quote(se.Expr)
	}
	return err.Error()
}

// checkObjectPath checks a mapping or strip path.
func checkObjectPath(v *validator, path, p string) {
	if p == "" {
		v.add(path, "required: a JSON path inside the object, e.g. $.connectorAttributes.host")
		return
	}
	segs, err := ParsePath(p)
	if err != nil {
		v.add(path, "%v", err)
		return
	}
	if !segs[0].IsIndex && (segs[0].Key == "name" || segs[0].Key == "id") && len(segs) == 1 {
		v.add(path, "%s is the object's identity (objects match across tenants by type and name); it cannot be mapped or stripped", p)
	}
}

func (c *Config) validateGate(v *validator, path string, g *Gate) {
	g.allow = nil
	for i, s := range g.AllowWarnings {
		re, err := regexp.Compile(s)
		if err != nil {
			v.add(fmt.Sprintf("%s.allowWarnings[%d]", path, i), "bad regular expression %q: %v", s, regexpErr(err))
			continue
		}
		g.allow = append(g.allow, re)
	}
	if g.MaxChanges < -1 {
		v.add(path+".maxChanges", "must be a positive number of changes, or -1 for no limit; got %d", g.MaxChanges)
	}
	if !slices.Contains([]string{DriftBlock, DriftOverwrite}, g.OnDrift) {
		v.add(path+".onDrift", "unknown drift policy %q; use block or overwrite", g.OnDrift)
	}
	g.leaks = nil
	for i, s := range g.LeakPatterns {
		re, err := regexp.Compile(s)
		switch {
		case err != nil:
			v.add(fmt.Sprintf("%s.leakPatterns[%d]", path, i), "bad regular expression %q: %v", s, regexpErr(err))
			continue
		case re.MatchString(""):
			v.add(fmt.Sprintf("%s.leakPatterns[%d]", path, i), "%q matches the empty string, so every value would be a leak; make it match the fingerprint itself, e.g. \\.dev\\.acme\\.local$", s)
			continue
		}
		g.leaks = append(g.leaks, re)
	}
	for i := range g.AllowLeaks {
		a := &g.AllowLeaks[i]
		ap := fmt.Sprintf("%s.allowLeaks[%d]", path, i)
		if a.Type == "" {
			v.add(ap+".type", "required: the type of the object whose value may hold the fingerprint, e.g. SOURCE")
		} else if !spconfig.Exportable(a.Type) {
			v.add(ap+".type", "unknown object type %q%s", a.Type, typeHint(a.Type))
		}
		if a.Name == "" {
			v.add(ap+".name", "required: the object's name (or /regexp/); the plan's leak reason names it")
		}
		a.re = nil
		if IsRegexpName(a.Name) {
			re, err := regexp.Compile(a.Name[1 : len(a.Name)-1])
			if err != nil {
				v.add(ap+".name", "bad regular expression %s: %v", a.Name, regexpErr(err))
			}
			a.re = re
		}
		if a.Path == "" {
			v.add(ap+".path", "required: the JSON path the leak reason names, e.g. $.connectorAttributes.host")
		} else if _, err := ParsePath(a.Path); err != nil {
			v.add(ap+".path", "%v", err)
		}
	}
	for i := range g.DenyWindows {
		w := &g.DenyWindows[i]
		wp := fmt.Sprintf("%s.denyWindows[%d]", path, i)
		w.sched = nil
		if w.Cron == "" {
			v.add(wp+".cron", "required: when the window opens, e.g. \"CRON_TZ=Europe/Berlin 0 18 * * 5\"")
		} else if s, err := ParseCron(w.Cron); err != nil {
			v.add(wp+".cron", "bad cron spec %q: %v; %s", w.Cron, err, CronHelp)
		} else {
			w.sched = s
		}
		if w.Duration.Duration <= 0 {
			v.add(wp+".duration", "required: how long the window stays open, a positive duration such as 62h")
		}
	}
}

func (c *Config) validatePullRequest(v *validator, path string, p *Pipeline) {
	pr := p.PullRequest
	if p.Mode == ModePullRequest && pr.Provider == "" {
		v.add(path+".provider", "required in pull-request mode: github, gitlab, or none (push the branch only)")
		return
	}
	if pr.Provider == "" {
		return
	}
	switch pr.Provider {
	case "github", "gitlab":
		if pr.Repo == "" {
			v.add(path+".repo", "required: the repository (owner/name on GitHub, project id or group/name on GitLab)")
		} else if pr.Provider == "github" && strings.Count(pr.Repo, "/") != 1 {
			v.add(path+".repo", "%q is not owner/name", pr.Repo)
		}
		if pr.TokenEnv == "" {
			v.add(path+".tokenEnv", "required: the environment variable holding the %s API token", pr.Provider)
		} else if !envVarRE.MatchString(pr.TokenEnv) {
			v.add(path+".tokenEnv", "%s", badEnvName(pr.TokenEnv))
		}
		if msg := checkURL(pr.BaseURL); msg != "" {
			v.add(path+".baseURL", "%s", msg)
		}
	case "none":
	default:
		v.add(path+".provider", "unknown provider %q; use github, gitlab or none", pr.Provider)
	}
	if !validRefName(pr.BranchPrefix+"x") || strings.HasPrefix(pr.BranchPrefix, "/") {
		v.add(path+".branchPrefix", "%q does not make valid git branch names", pr.BranchPrefix)
	}
}

func (c *Config) validateServe(v *validator) {
	s := c.Serve
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		v.add("serve.listen", "%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", s.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add("serve.listen", "port %q in %q is not a number from 0 to 65535", port, s.Listen)
	} else if strings.ContainsAny(host, " /") {
		v.add("serve.listen", "host %q in %q is not a host name or address", host, s.Listen)
	}
	if s.TriggerTokenEnv != "" && s.TriggerTokenFile != "" {
		v.add("serve.triggerTokenFile", "set triggerTokenEnv or triggerTokenFile, not both")
	}
	if s.TriggerTokenEnv != "" && !envVarRE.MatchString(s.TriggerTokenEnv) {
		v.add("serve.triggerTokenEnv", "%s", badEnvName(s.TriggerTokenEnv))
	}
}

func (c *Config) validateNotification(v *validator, path string, n *Notification) {
	if !slices.Contains([]string{"webhook", "slack"}, n.Type) {
		v.add(path+".type", "unknown notification type %q; use webhook or slack", n.Type)
	}
	switch {
	case n.URL == "" && n.URLEnv == "":
		v.add(path+".url", "required: set url, or urlEnv to the environment variable holding it")
	case n.URL != "" && n.URLEnv != "":
		v.add(path+".urlEnv", "set url or urlEnv, not both")
	case n.URL != "":
		if msg := checkURL(n.URL); msg != "" {
			v.add(path+".url", "%s", msg)
		}
	case !envVarRE.MatchString(n.URLEnv):
		v.add(path+".urlEnv", "%s", badEnvName(n.URLEnv))
	}
	for i, e := range n.Events {
		if !slices.Contains(notificationEvents, e) {
			v.add(fmt.Sprintf("%s.events[%d]", path, i), "unknown event %q; use %s", e, strings.Join(notificationEvents, ", "))
		}
	}
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

// Secrets are the secret values a configuration names, read from the
// environment and files. They print as REDACTED.
type Secrets struct {
	Tenants           map[string]TenantSecrets
	GitToken          string         // "" when no token is configured
	TriggerToken      string         // "" when the manual trigger is disabled
	NotificationURLs  map[int]string // by index in Config.Notifications
	PullRequestTokens map[string]string
}

// TenantSecrets is a tenant's client credentials.
type TenantSecrets struct {
	ClientID     string
	ClientSecret spconfig.Secret
}

// String, GoString, Format and LogValue keep secrets out of logs and errors.
func (Secrets) String() string                   { return "REDACTED" }
func (Secrets) GoString() string                 { return "REDACTED" }
func (Secrets) Format(f fmt.State, _ rune)       { fmt.Fprint(f, "REDACTED") }
func (Secrets) LogValue() slog.Value             { return slog.StringValue("REDACTED") }
func (TenantSecrets) String() string             { return "REDACTED" }
func (TenantSecrets) GoString() string           { return "REDACTED" }
func (TenantSecrets) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }
func (TenantSecrets) LogValue() slog.Value       { return slog.StringValue("REDACTED") }

// ResolveSecrets reads every secret the configuration names: tenant client
// credentials, the git token, the trigger token, notification URLs given by
// variable and pull-request tokens. getenv is os.Getenv in production. A
// missing or empty one is a problem naming its owner and the variable or
// file; no secret value ever appears in an error.
func (c *Config) ResolveSecrets(getenv func(string) string) (*Secrets, error) {
	return c.resolveSecrets(getenv, true)
}

// ResolveFlowSecrets is ResolveSecrets without the secrets only promoter
// serve uses (the manual trigger token): run, apply and the other commands
// that run one flow do not need them set.
func (c *Config) ResolveFlowSecrets(getenv func(string) string) (*Secrets, error) {
	return c.resolveSecrets(getenv, false)
}

func (c *Config) resolveSecrets(getenv func(string) string, serve bool) (*Secrets, error) {
	s := &Secrets{Tenants: map[string]TenantSecrets{}, NotificationURLs: map[int]string{}, PullRequestTokens: map[string]string{}}
	v := &validator{c: c}
	read := func(path, owner, env, file string) string {
		if env != "" {
			val := getenv(env)
			if val == "" {
				v.add(path+"Env", "environment variable %s (%s) is not set or empty; export it before running promoter", env, owner)
			}
			return val
		}
		if file != "" {
			data, err := os.ReadFile(file)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				v.add(path+"File", "cannot read %s from file %s: %v", owner, file, err)
				return ""
			}
			val := strings.TrimSpace(string(data))
			if val == "" {
				v.add(path+"File", "file %s (%s) is empty", file, owner)
			}
			return val
		}
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(c.Tenants)) {
		t := c.Tenants[name]
		p := "tenants." + name
		s.Tenants[name] = TenantSecrets{
			ClientID:     read(p+".clientID", "client id of tenant "+name, t.ClientIDEnv, t.ClientIDFile),
			ClientSecret: spconfig.Secret(read(p+".clientSecret", "client secret of tenant "+name, t.ClientSecretEnv, t.ClientSecretFile)),
		}
	}
	s.GitToken = read("repo.auth.token", "git token", c.Repo.Auth.TokenEnv, c.Repo.Auth.TokenFile)
	if f := c.Repo.Auth.SSHKeyFile; f != "" {
		if _, err := os.Stat(f); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			v.add("repo.auth.sshKeyFile", "cannot read the ssh key %s: %v", f, err)
		}
	}
	if serve {
		s.TriggerToken = read("serve.triggerToken", "manual trigger token", c.Serve.TriggerTokenEnv, c.Serve.TriggerTokenFile)
	}
	for i, n := range c.Notifications {
		if n.URL != "" {
			s.NotificationURLs[i] = n.URL
			continue
		}
		if n.URLEnv == "" {
			continue
		}
		p := fmt.Sprintf("notifications[%d].url", i)
		u := read(p, fmt.Sprintf("%s notification URL", n.Type), n.URLEnv, "")
		if u == "" {
			continue
		}
		if msg := checkURL(u); msg != "" {
			// never print the value: webhook URLs are credentials
			v.add(p+"Env", "environment variable %s does not hold an https URL (http only for loopback hosts)", n.URLEnv)
			continue
		}
		s.NotificationURLs[i] = u
	}
	for i, p := range c.Pipelines {
		if p.Mode != ModePullRequest || p.PullRequest.TokenEnv == "" || (p.PullRequest.Provider != "github" && p.PullRequest.Provider != "gitlab") {
			continue
		}
		tok := read(fmt.Sprintf("pipelines[%d].pullRequest.token", i), p.PullRequest.Provider+" token of pipeline "+p.Name, p.PullRequest.TokenEnv, "")
		if tok != "" {
			s.PullRequestTokens[p.Name] = tok
		}
	}
	if len(v.problems) > 0 {
		sortProblems(v.problems)
		return nil, &Error{File: c.Path, Problems: v.problems}
	}
	return s, nil
}

// PathSegment is one step of a JSON path: an object key or an array index.
type PathSegment = jsonspan.Segment

// ParsePath parses the JSON path subset used by mappings and strip rules:
// $.a.b, $.a[0].b, $['key with space'], $["key"]. The path is relative to
// the exported object (the entry's "object").
func ParsePath(p string) ([]PathSegment, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("JSON path %q must start with $ (e.g. $.connectorAttributes.host)", p)
	}
	var segs []PathSegment
	s := p[1:]
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			key := s[:end]
			if key == "" {
				return nil, fmt.Errorf("JSON path %q has an empty key (two dots, or a dot at the end)", p)
			}
			if strings.ContainsAny(key, " \t]'\"*") {
				return nil, fmt.Errorf("JSON path %q: key %q needs the bracket form $['%s'] (wildcards are not supported)", p, key, key)
			}
			segs = append(segs, PathSegment{Key: key})
			s = s[end:]
		case '[':
			if len(s) > 1 && (s[1] == '\'' || s[1] == '"') {
				q := s[1]
				end := strings.IndexByte(s[2:], q)
				if end < 0 || len(s) < end+4 || s[end+3] != ']' {
					return nil, fmt.Errorf("JSON path %q: unterminated quoted key; write $['key']", p)
				}
				key := s[2 : 2+end]
				if strings.ContainsRune(key, ']') {
					return nil, fmt.Errorf("JSON path %q: a key may not contain ]", p)
				}
				segs = append(segs, PathSegment{Key: key})
				s = s[end+4:]
				continue
			}
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("JSON path %q: missing ]", p)
			}
			inner := s[1:end]
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 || strings.HasPrefix(inner, "+") {
				return nil, fmt.Errorf("JSON path %q: [%s] is neither an array index ([0]) nor a quoted key (['key']); wildcards are not supported", p, inner)
			}
			segs = append(segs, PathSegment{Index: n, IsIndex: true})
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("JSON path %q: unexpected %q after %q; use .key, [0] or ['key']", p, s[0], p[:len(p)-len(s)])
		}
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("JSON path %q names the whole object; name a field inside it, e.g. $.description", p)
	}
	return segs, nil
}

// FormatPath writes segments in the syntax ParsePath reads: $.key for plain
// keys, $['key'] for keys that need quoting, [0] for indexes.
func FormatPath(segs []PathSegment) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range segs {
		switch {
		case s.IsIndex:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case s.Key != "" && !strings.ContainsAny(s.Key, ".[] \t'\"*"):
			b.WriteString("." + s.Key)
		case !strings.Contains(s.Key, "'"):
			b.WriteString("['" + s.Key + "']")
		default:
			b.WriteString(`["` + s.Key + `"]`)
		}
	}
	return b.String()
}
