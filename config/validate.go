package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // CRON_TZ zones must resolve in minimal containers without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"

	"promoter/spconfig"
)

// Validation: every problem of a decoded file at once, each naming its key
// and line and saying what to write instead.

// validator collects problems with the line of their path.
type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: v.c.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Where names a key of the file for messages: "pipelines[0].mappings[1]
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
// *Error listing every problem, or nil.
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
	c.validateChains(v)
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

// IsLoopback reports whether host is localhost or a loopback address.
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

// ParseCron parses a standard 5-field spec with an optional CRON_TZ= (or
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

// CronHelp says how to write a schedule; validation and the scheduler add
// it to the problem of a schedule ParseCron refuses.
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

// validateChains refuses pipelines that lead back to where they start
// (dev -> prod -> dev): a source that is another pipeline's target is never
// exported (its folder is its desired state), so in a loop no tenant is
// exported and nothing ever enters. Each loop is reported once, at its
// first pipeline.
func (c *Config) validateChains(v *validator) {
	upstream := func(p *Pipeline) int { // index of the pipeline whose target is p's source, or -1
		for i, q := range c.Pipelines {
			if q != nil && q.Target != "" && q.Target == p.Source {
				return i
			}
		}
		return -1
	}
	for i, p := range c.Pipelines {
		if p == nil || p.Source == "" || p.Source == p.Target {
			continue
		}
		loop := []int{i} // i, then its upstream pipelines
		for j := upstream(p); j >= 0 && j != i && len(loop) <= len(c.Pipelines); j = upstream(c.Pipelines[j]) {
			loop = append(loop, j)
		}
		if len(loop) > len(c.Pipelines) || upstream(c.Pipelines[loop[len(loop)-1]]) != i || slices.Min(loop) != i {
			continue // no loop back to p, or reported at its first pipeline
		}
		flow := append([]int{i}, loop[1:]...) // in the order objects move: i, then downstream
		slices.Reverse(flow[1:])
		names, tenants := make([]string, len(flow)), []string{p.Source}
		for k, j := range flow {
			names[k] = fmt.Sprintf("%q", c.Pipelines[j].Name)
			tenants = append(tenants, c.Pipelines[j].Target)
		}
		v.add(fmt.Sprintf("pipelines[%d].source", i), "pipelines %s lead back to where they start (%s): each of these tenants is another pipeline's target, so none is exported and nothing ever enters; start the chain at a tenant no pipeline promotes into",
			strings.Join(names, ", "), strings.Join(tenants, " -> "))
	}
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
