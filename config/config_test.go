package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

var updateConfigGolden = flag.Bool("update-config", false, "rewrite testdata/config/*.golden")

// baseConfig is a valid configuration; its line numbers are what the
// table below asserts (line 16 is the first line a case appends).
const baseConfig = `repo:
  path: /tmp/repo
tenants:
  dev:
    baseURL: https://acme-sb.api.identitynow.com
    clientIDEnv: DEV_ID
    clientSecretEnv: DEV_SECRET
  prod:
    baseURL: https://acme.api.identitynow.com
    clientIDEnv: PROD_ID
    clientSecretEnv: PROD_SECRET
pipelines:
  - name: dev-to-prod
    source: dev
    target: prod
`

// with returns baseConfig with old replaced by new (old must occur).
func with(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(baseConfig, old) {
		t.Fatalf("base config has no %q", old)
	}
	return strings.Replace(baseConfig, old, new, 1)
}

func problems(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	return ce.Problems
}

func TestParseValidBase(t *testing.T) {
	c, err := Parse("base.yaml", []byte(baseConfig))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := c.Pipelines[0].Name; got != "dev-to-prod" {
		t.Errorf("pipeline name = %q", got)
	}
}

// TestValidationRules checks every validation rule: each case must yield
// exactly the expected problem, at the expected line and path.
func TestValidationRules(t *testing.T) {
	type tc struct {
		name string
		yaml string
		line int
		path string
		msg  string // substring of the message
	}
	add := func(extra string) string { return baseConfig + extra }
	cases := []tc{
		{"repo path missing", with(t, "  path: /tmp/repo\n", "  branch: main\n"), 1, "repo.path", "required"},
		{"repo branch invalid", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  branch: a..b\n"), 3, "repo.branch", "not a valid git branch"},
		{"remote with password", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  remote: https://u:pw@git.example.com/r.git\n"), 3, "repo.remote", "contains a password"},
		{"remote plain http", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  remote: http://git.example.com/r.git\n"), 3, "repo.remote", "loopback"},
		{"auth without remote", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  auth: {tokenEnv: GIT_TOKEN}\n"), 3, "repo.auth", "remote is empty"},
		{"token env and file", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  remote: https://g.example/r.git\n  auth: {tokenEnv: T, tokenFile: /f}\n"), 4, "repo.auth", "not both"},
		{"author email", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  author: {email: nobody}\n"), 3, "repo.author.email", "not an email"},
		{"base URL http", with(t, "https://acme-sb.api", "http://acme-sb.api"), 5, "tenants.dev.baseURL", "only accepted for loopback"},
		{"base URL with version path", with(t, "https://acme-sb.api.identitynow.com", "https://acme-sb.api.identitynow.com/v2025"), 5, "tenants.dev.baseURL", "without a path"},
		{"base URL is the UI host", with(t, "https://acme-sb.api.identitynow.com", "https://acme-sb.identitynow.com"), 5, "tenants.dev.baseURL", "UI host; the API host is acme-sb.api.identitynow.com"},
		{"base URL not absolute", with(t, "https://acme-sb.api.identitynow.com", "acme-sb.api.identitynow.com"), 5, "tenants.dev.baseURL", "not an absolute"},
		{"base URL missing", with(t, "    baseURL: https://acme-sb.api.identitynow.com\n", ""), 4, "tenants.dev.baseURL", "required"},
		{"token URL http", with(t, "    clientIDEnv: DEV_ID\n", "    tokenURL: http://example.com/oauth/token\n    clientIDEnv: DEV_ID\n"), 6, "tenants.dev.tokenURL", "loopback"},
		{"api version unknown", with(t, "    clientIDEnv: DEV_ID\n", "    apiVersion: v3\n    clientIDEnv: DEV_ID\n"), 6, "tenants.dev.apiVersion", "use one of beta, v2024, v2025, v2026, v1"},
		{"client id missing", with(t, "    clientIDEnv: DEV_ID\n", ""), 4, "tenants.dev.clientIDEnv", "required"},
		{"client secret env and file", with(t, "    clientSecretEnv: DEV_SECRET\n", "    clientSecretEnv: DEV_SECRET\n    clientSecretFile: /s\n"), 8, "tenants.dev.clientSecretFile", "not both"},
		{"client id env name", with(t, "clientIDEnv: DEV_ID", "clientIDEnv: DEV-ID"), 6, "tenants.dev.clientIDEnv", "not an environment variable name"},
		{"rate limit negative", with(t, "    clientIDEnv: DEV_ID\n", "    rateLimit: -1\n    clientIDEnv: DEV_ID\n"), 6, "tenants.dev.rateLimit", "positive"},
		{"tenant name uppercase", strings.Replace(with(t, "  dev:\n", "  Dev:\n"), "source: dev", "source: Dev", 1), 4, "tenants.Dev", "tenant name \"Dev\" is invalid"},
		{"no pipelines", strings.Split(baseConfig, "pipelines:")[0], 0, "pipelines", "no pipeline"},
		{"pipeline name invalid", with(t, "name: dev-to-prod", "name: Dev To Prod"), 13, "pipelines[0].name", "is invalid"},
		{"pipeline name ref-unsafe", with(t, "name: dev-to-prod", "name: dev..prod"), 13, "pipelines[0].name", "is invalid"},
		{"pipeline name missing", with(t, "  - name: dev-to-prod\n    source", "  - source"), 13, "pipelines[0].name", "required"},
		{"duplicate pipeline names", withUAT(t) + "  - name: dev-to-prod\n    source: dev\n    target: uat\n", 20, "pipelines[1].name", "already used by pipelines[0] (line 17)"},
		{"three pipelines in a loop, reported once", withUAT(t) + "  - {name: uat-to-dev, source: uat, target: dev}\n  - {name: prod-to-uat, source: prod, target: uat}\n", 18, "pipelines[0].source", `pipelines "dev-to-prod", "prod-to-uat", "uat-to-dev" lead back to where they start (dev -> prod -> uat -> dev)`},
		{"pipelines in a loop", add("  - name: prod-to-dev\n    source: prod\n    target: dev\n"), 14, "pipelines[0].source", `pipelines "dev-to-prod", "prod-to-dev" lead back to where they start (dev -> prod -> dev)`},
		{"unknown source tenant", with(t, "source: dev", "source: qa"), 14, "pipelines[0].source", `unknown tenant "qa"; defined tenants: dev, prod`},
		{"missing target", with(t, "    target: prod\n", ""), 13, "pipelines[0].target", "required"},
		{"source equals target", with(t, "target: prod", "target: dev"), 15, "pipelines[0].target", "same tenant"},
		{"cron too few fields", add("    schedule: \"0 6 * *\"\n"), 16, "pipelines[0].schedule", "bad cron spec"},
		{"cron unknown zone", add("    schedule: \"CRON_TZ=Mars/Olympus 0 6 * * *\"\n"), 16, "pipelines[0].schedule", "Mars/Olympus"},
		{"cron zone without spec", add("    schedule: CRON_TZ=Europe/Berlin\n"), 16, "pipelines[0].schedule", "needs a schedule after it"},
		{"cron never fires", add("    schedule: \"0 0 30 2 *\"\n"), 16, "pipelines[0].schedule", "never fires"},
		{"cron out of range", add("    schedule: \"61 6 * * *\"\n"), 16, "pipelines[0].schedule", "bad cron spec"},
		{"unknown include type", add("    includeTypes: [SOURCE,\n      SOURCES]\n"), 17, "pipelines[0].includeTypes[1]", "did you mean SOURCE?"},
		{"unknown exclude type", add("    excludeTypes: [auth_org]\n"), 16, "pipelines[0].excludeTypes[0]", "did you mean AUTH_ORG?"},
		{"type listed twice", add("    includeTypes: [SOURCE, SOURCE]\n"), 16, "pipelines[0].includeTypes[1]", "listed twice"},
		{"exclude everything", add("    includeTypes: [SOURCE]\n    excludeTypes: [SOURCE]\n"), 17, "pipelines[0].excludeTypes", "export nothing"},
		{"exclude empty entry", add("    exclude:\n      - {}\n"), 17, "pipelines[0].exclude[0]", "set type, name or both"},
		{"exclude bad regexp", add("    exclude:\n      - {type: RULE, name: \"/(/\"}\n"), 17, "pipelines[0].exclude[0].name", "bad regular expression"},
		{"exclude unknown type", add("    exclude:\n      - {type: RULES, name: x}\n"), 17, "pipelines[0].exclude[0].type", "did you mean RULE?"},
		{"mode unknown", add("    mode: automatic\n"), 16, "pipelines[0].mode", "use auto, pull-request or manual"},
		{"allow warning bad regexp", add("    gate:\n      allowWarnings: [\"ok\", \"(\"]\n"), 17, "pipelines[0].gate.allowWarnings[1]", "bad regular expression"},
		{"leak pattern bad regexp", add("    gate:\n      leakPatterns: [\"(\"]\n"), 17, "pipelines[0].gate.leakPatterns[0]", "bad regular expression"},
		{"leak pattern matches everything", add("    gate:\n      leakPatterns: [\"x*\"]\n"), 17, "pipelines[0].gate.leakPatterns[0]", "matches the empty string"},
		{"allow leak without path", add("    gate:\n      allowLeaks:\n        - {type: SOURCE, name: AD}\n"), 18, "pipelines[0].gate.allowLeaks[0].path", "required: the JSON path"},
		{"allow leak bad path", add("    gate:\n      allowLeaks:\n        - {type: SOURCE, name: AD, path: a.b}\n"), 18, "pipelines[0].gate.allowLeaks[0].path", "must start with $"},
		{"allow leak unknown type", add("    gate:\n      allowLeaks:\n        - {type: SOURCES, name: AD, path: $.a}\n"), 18, "pipelines[0].gate.allowLeaks[0].type", "did you mean SOURCE?"},
		{"allow leak without name", add("    gate:\n      allowLeaks:\n        - {type: SOURCE, path: $.a}\n"), 18, "pipelines[0].gate.allowLeaks[0].name", "required"},
		{"mapping optional not a boolean", add("    mappings:\n      - {type: SOURCE, path: $.a, from: a, to: b, optional: maybe}\n"), 17, "pipelines[0].mappings[0].optional", "true or false"},
		{"max changes below -1", add("    gate:\n      maxChanges: -2\n"), 17, "pipelines[0].gate.maxChanges", "-1 for no limit"},
		{"drift policy unknown", add("    gate:\n      onDrift: ignore\n"), 17, "pipelines[0].gate.onDrift", "use block or overwrite"},
		{"deny window no duration", add("    gate:\n      denyWindows:\n        - cron: \"0 18 * * 5\"\n"), 18, "pipelines[0].gate.denyWindows[0].duration", "positive duration"},
		{"deny window negative duration", add("    gate:\n      denyWindows:\n        - cron: \"0 18 * * 5\"\n          duration: -1h\n"), 19, "pipelines[0].gate.denyWindows[0].duration", "positive duration"},
		{"deny window bad cron", add("    gate:\n      denyWindows:\n        - {cron: \"0 18 * * fri-\", duration: 62h}\n"), 18, "pipelines[0].gate.denyWindows[0].cron", "bad cron spec"},
		{"deny window no cron", add("    gate:\n      denyWindows:\n        - {duration: 62h}\n"), 18, "pipelines[0].gate.denyWindows[0].cron", "required"},
		{"guard percent above 100", add("    guard:\n      maxDropPercent: 150\n"), 17, "pipelines[0].guard.maxDropPercent", "between 0 and 100"},
		{"guard percent negative", add("    guard:\n      maxDropPercent: -5\n"), 17, "pipelines[0].guard.maxDropPercent", "between 0 and 100"},
		{"guard min objects negative", add("    guard:\n      minObjects: -1\n"), 17, "pipelines[0].guard.minObjects", "0 or more"},
		{"mapping on signed RULE", add("    mappings:\n      - {type: RULE, name: X, path: $.a, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].type", "signed"},
		{"mapping on signed CONNECTOR_RULE", add("    mappings:\n      - {type: CONNECTOR_RULE, path: $.a, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].type", "signed"},
		{"mapping without type", add("    mappings:\n      - {path: $.a, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].type", "required"},
		{"mapping path without $", add("    mappings:\n      - {type: SOURCE, path: connectorAttributes.host, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].path", "must start with $"},
		{"mapping path bad index", add("    mappings:\n      - {type: SOURCE, path: \"$.a[x]\", from: a, to: b}\n"), 17, "pipelines[0].mappings[0].path", "neither an array index"},
		{"mapping path space", add("    mappings:\n      - {type: SOURCE, path: \"$.a b\", from: a, to: b}\n"), 17, "pipelines[0].mappings[0].path", "bracket form"},
		{"mapping path missing", add("    mappings:\n      - {type: SOURCE, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].path", "required"},
		{"mapping renames object", add("    mappings:\n      - {type: SOURCE, path: $.name, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].path", "identity"},
		{"mapping from equals to", add("    mappings:\n      - {type: SOURCE, path: $.a, from: a, to: a}\n"), 17, "pipelines[0].mappings[0].to", "change nothing"},
		{"mapping without from", add("    mappings:\n      - {type: SOURCE, path: $.a, to: a}\n"), 17, "pipelines[0].mappings[0].from", "required"},
		{"mapping bad name regexp", add("    mappings:\n      - {type: SOURCE, name: \"/[/\", path: $.a, from: a, to: b}\n"), 17, "pipelines[0].mappings[0].name", "bad regular expression"},
		{"strip signed type", add("    strip:\n      - {type: RULE, path: $.created}\n"), 17, "pipelines[0].strip[0].type", "signed"},
		{"strip bad path", add("    strip:\n      - {type: SOURCE, path: \"$.a[\"}\n"), 17, "pipelines[0].strip[0].path", "missing ]"},
		{"secret scan action", add("    secretScan: {action: warn}\n"), 16, "pipelines[0].secretScan.action", "refuse, redact or off"},
		{"secret scan key regexp", add("    secretScan:\n      keys: [\"(?i\"]\n"), 17, "pipelines[0].secretScan.keys[0]", "bad regular expression"},
		{"job timeout negative", add("    jobTimeout: -5m\n"), 16, "pipelines[0].jobTimeout", "positive"},
		{"pull-request mode without provider", add("    mode: pull-request\n"), 13, "pipelines[0].pullRequest.provider", "required in pull-request mode"},
		{"pull-request provider unknown", add("    mode: pull-request\n    pullRequest:\n      provider: bitbucket\n"), 18, "pipelines[0].pullRequest.provider", "use github, gitlab or none"},
		{"github without token", add("    mode: pull-request\n    pullRequest:\n      provider: github\n      repo: acme/isc\n"), 17, "pipelines[0].pullRequest.tokenEnv", "required"},
		{"github repo not owner/name", add("    pullRequest: {provider: github, repo: isc, tokenEnv: GH}\n"), 16, "pipelines[0].pullRequest.repo", "not owner/name"},
		{"github base URL http", add("    pullRequest: {provider: github, repo: a/b, tokenEnv: GH, baseURL: \"http://gh.example\"}\n"), 16, "pipelines[0].pullRequest.baseURL", "loopback"},
		{"branch prefix invalid", add("    pullRequest: {provider: none, branchPrefix: \"a..\"}\n"), 16, "pipelines[0].pullRequest.branchPrefix", "valid git branch"},
		{"serve listen", add("serve:\n  listen: \"8080\"\n"), 17, "serve.listen", "not host:port"},
		{"serve listen port", add("serve:\n  listen: \":99999\"\n"), 17, "serve.listen", "0 to 65535"},
		{"serve trigger both", add("serve:\n  triggerTokenEnv: T\n  triggerTokenFile: /t\n"), 18, "serve.triggerTokenFile", "not both"},
		{"notification type", add("notifications:\n  - type: email\n    url: https://h.example\n"), 17, "notifications[0].type", "webhook or slack"},
		{"notification http URL", add("notifications:\n  - type: webhook\n    url: http://hooks.example.com/x\n"), 18, "notifications[0].url", "loopback"},
		{"notification no URL", add("notifications:\n  - type: slack\n"), 17, "notifications[0].url", "required"},
		{"notification URL and env", add("notifications:\n  - type: slack\n    url: https://h.example\n    urlEnv: SLACK\n"), 19, "notifications[0].urlEnv", "not both"},
		{"notification event", add("notifications:\n  - type: webhook\n    url: https://h.example\n    events: [promoted, deleted]\n"), 19, "notifications[0].events[1]", "unknown event \"deleted\""},
		{"log format", add("log: {format: xml}\n"), 16, "log.format", "auto, text or json"},
		{"log level", add("log:\n  level: trace\n"), 17, "log.level", "debug, info, warn or error"},
		// decoding problems
		{"unknown top-level key", add("repos: {}\n"), 16, "repos", `unknown key "repos"; did you mean "repo"?`},
		{"unknown pipeline key", add("    shedule: \"0 6 * * *\"\n"), 16, "pipelines[0].shedule", `did you mean "schedule"?`},
		{"unknown tenant key", with(t, "    clientIDEnv: DEV_ID\n", "    clientIDEnv: DEV_ID\n    clientId: abc\n"), 7, "tenants.dev.clientId", `did you mean "clientID`},
		{"unknown key far from any", add("    frobnicate: 1\n"), 16, "pipelines[0].frobnicate", "valid keys here: name, source, target"},
		{"wrong type int", add("    gate:\n      maxChanges: lots\n"), 17, "pipelines[0].gate.maxChanges", `must be a whole number, not "lots"`},
		{"wrong type float", add("    guard: {maxDropPercent: [1]}\n"), 16, "pipelines[0].guard.maxDropPercent", "must be a number, not a list"},
		{"wrong type duration", add("    jobTimeout: soon\n"), 16, "pipelines[0].jobTimeout", `"soon" is not a duration`},
		{"wrong type list", add("    includeTypes: SOURCE\n"), 16, "pipelines[0].includeTypes", "must be a list"},
		{"wrong type string", add("    mode: [auto]\n"), 16, "pipelines[0].mode", "must be a single value"},
		{"pipelines as mapping", strings.Split(baseConfig, "pipelines:")[0] + "pipelines:\n  dev-to-prod: {source: dev}\n", 13, "pipelines", "must be a list"},
		{"tenant as list", with(t, "  prod:\n    baseURL: https://acme.api.identitynow.com\n    clientIDEnv: PROD_ID\n    clientSecretEnv: PROD_SECRET\n", "  prod: [x]\n"), 8, "tenants.prod", "must be a mapping of keys"},
		{"duplicate key", with(t, "    clientSecretEnv: DEV_SECRET\n", "    clientSecretEnv: DEV_SECRET\n    clientIDEnv: OTHER\n"), 8, "tenants.dev.clientIDEnv", "already defined at line 6"},
		{"duplicate tenant", add("tenants: {}\n"), 16, "tenants", "already defined at line 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.yaml))
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v\nconfig:\n%s", len(ps), err, c.yaml)
			}
			p := ps[0]
			if p.Line != c.line || p.Path != c.path || !strings.Contains(p.Msg, c.msg) {
				t.Errorf("problem = {line %d, %s: %s}\nwant     {line %d, %s: ...%s...}", p.Line, p.Path, p.Msg, c.line, c.path, c.msg)
			}
		})
	}
}

// TestValidAccepted checks configurations near the rules' edges that must be accepted.
func TestValidAccepted(t *testing.T) {
	cases := []struct{ name, yaml string }{
		{"loopback http base URL", with(t, "https://acme-sb.api.identitynow.com", "http://127.0.0.1:8081")},
		{"ipv6 loopback", with(t, "https://acme-sb.api.identitynow.com", "http://[::1]:8081")},
		{"localhost", with(t, "https://acme-sb.api.identitynow.com", "http://localhost:8081/")},
		{"client id from file", with(t, "    clientIDEnv: DEV_ID\n", "    clientIDFile: /run/secrets/dev-id\n")},
		{"every api version", with(t, "    clientIDEnv: DEV_ID\n", "    apiVersion: v1\n    clientIDEnv: DEV_ID\n")},
		{"cron with zone and descriptor", baseConfig + "    schedule: \"CRON_TZ=Europe/Berlin @daily\"\n"},
		{"unlimited changes", baseConfig + "    gate: {maxChanges: -1, onDrift: overwrite}\n"},
		{"no drop allowed", baseConfig + "    guard: {maxDropPercent: 0}\n"},
		{"pull-request push only", baseConfig + "    mode: pull-request\n    pullRequest: {provider: none}\n"},
		{"gitlab on loopback", baseConfig + "    mode: pull-request\n    pullRequest: {provider: gitlab, repo: \"42\", tokenEnv: GL, baseURL: \"http://127.0.0.1:9/api/v4\"}\n"},
		{"mapping every object, bracket path", baseConfig + "    mappings:\n      - {type: SOURCE, path: \"$['connectorAttributes']['host name'][0]\", from: a, to: \"\"}\n"},
		{"strip any type", baseConfig + "    strip: [{path: $.modified}]\n"},
		{"exclude by regexp name only", baseConfig + "    exclude: [{name: \"/^Test/\"}]\n"},
		{"null sections", baseConfig + "serve:\nnotifications:\nlog: ~\n"},
		{"ssh remote scp form", with(t, "  path: /tmp/repo\n", "  path: /tmp/repo\n  remote: git@github.com:acme/isc.git\n  auth: {sshKeyFile: /k}\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse("ok.yaml", []byte(c.yaml)); err != nil {
				t.Errorf("Parse: %v\nconfig:\n%s", err, c.yaml)
			}
		})
	}
}

// withUAT is baseConfig with a third tenant, uat, for a second pipeline.
func withUAT(t *testing.T) string {
	return with(t, "pipelines:\n", "  uat:\n    baseURL: https://acme-uat.api.identitynow.com\n    clientIDEnv: UAT_ID\n    clientSecretEnv: UAT_SECRET\npipelines:\n")
}

func TestMergeKeys(t *testing.T) {
	y := withUAT(t) + `    gate: &strict
      maxChanges: 5
      onDrift: block
  - name: dev-to-uat
    source: dev
    target: uat
    gate:
      <<: *strict
      maxChanges: 7
`
	c, err := Parse("merge.yaml", []byte(y))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := c.Pipelines[1].Gate; got.MaxChanges != 7 || got.OnDrift != DriftBlock {
		t.Errorf("merged gate = %+v, want maxChanges 7 (explicit wins), onDrift block", got)
	}
	if got := c.Pipelines[0].Gate.MaxChanges; got != 5 {
		t.Errorf("anchored gate maxChanges = %d, want 5", got)
	}
}

// TestYAMLSyntaxErrors checks malformed files: the problem carries the line
// where yaml.v3 reports one.
func TestYAMLSyntaxErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"tab indentation", "repo:\n\tpath: x\n", 2, "YAML syntax"},
		{"unclosed flow list", "repo: {path: x}\npipelines: [a, b\n", 2, "did not find expected ',' or ']'"},
		{"unclosed flow list on line 1", "pipelines: [a, b\n", 2, "did not find expected ',' or ']'"},
		{"unclosed quote", "repo:\n  path: \"x\n", 2, "YAML syntax"},
		{"bad indentation", "repo:\n  path: x\n   branch: y\n", 3, "YAML syntax"},
		{"missing key", "repo:\n  path: x\n - a\n", 3, "did not find expected key"},
		{"mis-indented key under a list item", "repo:\n  path: x\npipelines:\n  - name: a\n    source: dev\n   target: prod\n", 6, "did not find expected '-' indicator (in the block that starts at line 4)"},
		{"mapping value on line 1", "a: b: c\n", 1, "mapping values are not allowed"},
		{"control character", "repo:\n  path: \x01\n", 2, "control characters"},
		{"invalid UTF-8", "repo:\n\n  path: \xff\n", 3, "UTF-8"},
		{"unknown anchor", "repo:\n  path: x\npipelines: [*p]\n", 3, "anchor &p that is not defined"},
		{"empty file", "", 1, "empty"},
		{"comments only", "# nothing\n", 1, "empty"},
		{"two documents", baseConfig + "---\nrepo: {}\n", 16, "more than one YAML document"},
		{"scalar document", "hello\n", 1, "must be a mapping of keys (repo, tenants, pipelines"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(c.yaml))
			ps := problems(t, err)
			if len(ps) == 0 {
				t.Fatalf("no problem reported")
			}
			if ps[0].Line != c.line || !strings.Contains(ps[0].Msg, c.msg) {
				t.Errorf("first problem = %+v, want line %d and %q", ps[0], c.line, c.msg)
			}
		})
	}
}

// TestAliasBomb checks that self-referencing and exponential aliases end
// with a problem instead of hanging or exhausting memory.
func TestAliasBomb(t *testing.T) {
	cases := map[string]string{
		"self reference": baseConfig + "    includeTypes: &x [*x]\n",
		"exponential": baseConfig + `    exclude: &a [{type: SOURCE, name: x}, {type: SOURCE, name: y}]
    excludeTypes: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    includeTypes: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    strip: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    mappings: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    secretScan: {keys: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}
`,
	}
	for name, y := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("bomb.yaml", []byte(y))
			if len(problems(t, err)) == 0 {
				t.Fatal("accepted")
			}
		})
	}
}

// TestEveryProblemReported parses a file with many problems and compares
// the whole report with a golden file (update with -update-config).
func TestEveryProblemReported(t *testing.T) {
	file := filepath.Join("testdata", "config", "many-problems.yaml")
	_, err := Load(file)
	if err == nil {
		t.Fatal("Load accepted a broken file")
	}
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "config", "many-problems.golden")
	if *updateConfigGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	// Each line has the form file:line: path: message.
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		if !strings.HasPrefix(l, file+":") {
			t.Errorf("line %q does not start with %q", l, file+":")
		}
	}
	for _, want := range []string{"repo.path", "tenants.dev.baseURL", "tenants.dev.apiVersion", "tenants.prod.baseURL",
		"tenants.prod.clientSecretEnv", "pipelines[0].target", "pipelines[0].schedule", "pipelines[0].shedule",
		"pipelines[0].includeTypes[1]", "pipelines[0].mode", "pipelines[0].gate.maxChanges", "pipelines[0].gate.onDrift", "pipelines[1].name"} {
		if !strings.Contains(got, ": "+want+": ") {
			t.Errorf("report does not name %s", want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "p.yaml", Problems: []Problem{
		{Line: 3, Path: "repo.path", Msg: "required"},
		{Path: "pipelines", Msg: "no pipeline"},
		{Line: 7, Msg: "YAML syntax: x"},
	}}
	want := "p.yaml:3: repo.path: required\np.yaml: pipelines: no pipeline\np.yaml:7: YAML syntax: x"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

// TestValidateWithoutLines checks a Config built in code: problems carry no line.
func TestValidateWithoutLines(t *testing.T) {
	c := &Config{Path: "code", Repo: Repo{Path: "/r"}, Tenants: map[string]*Tenant{
		"dev": {BaseURL: "https://a.example", ClientIDEnv: "A", ClientSecretEnv: "B"},
	}, Pipelines: []*Pipeline{{Name: "p", Source: "dev", Target: "prod"}}}
	ps := problems(t, c.Validate())
	want := []Problem{{Path: "pipelines[0].target", Msg: `unknown tenant "prod"; defined tenants: dev`}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	c.Tenants["prod"] = &Tenant{BaseURL: "http://127.0.0.1:1", ClientIDFile: "/id", ClientSecretFile: "/secret"}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after adding prod: %v", err)
	}
	if c.Pipelines[0].Mode != ModeAuto || c.Tenants["prod"].APIVersion != "v2025" {
		t.Errorf("Validate did not apply defaults: mode %q, apiVersion %q", c.Pipelines[0].Mode, c.Tenants["prod"].APIVersion)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "config", "minimal.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "config")) // relative paths are made absolute against the config's folder
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pipelines[0]
	got := map[string]any{
		"repo.path":              c.Repo.Path,
		"repo.branch":            c.Repo.Branch,
		"repo.author":            c.Repo.Author,
		"repo.auth.username":     c.Repo.Auth.Username,
		"dev.name":               c.Tenants["dev"].Name,
		"dev.baseURL":            c.Tenants["dev"].BaseURL,
		"dev.apiVersion":         c.Tenants["dev"].APIVersion,
		"dev.tokenURL":           c.Tenants["dev"].TokenURL,
		"prod.clientIDFile":      c.Tenants["prod"].ClientIDFile,
		"includeTypes":           p.IncludeTypes,
		"types":                  p.Types(),
		"mode":                   p.Mode,
		"gate.maxChanges":        p.Gate.MaxChanges,
		"gate.onDrift":           p.Gate.OnDrift,
		"guard.maxDropPercent":   p.Guard.MaxDropPercent,
		"guard.minObjects":       p.Guard.MinObjects,
		"secretScan.action":      p.SecretScan.Action,
		"jobTimeout":             p.JobTimeout.Duration,
		"pullRequest.prefix":     p.PullRequest.BranchPrefix,
		"pullRequest.baseURL":    p.PullRequest.BaseURL,
		"serve.listen":           c.Serve.Listen,
		"log":                    c.Log,
		"log.slogLevel":          c.Log.SlogLevel(),
		"schedule (on demand)":   p.Schedule,
		"changeLimit":            fmt.Sprint(p.Gate.ChangeLimit()),
		"notifications (none)":   len(c.Notifications),
		"config path":            c.Path,
		"tenant lookup":          c.Tenant("prod").Name,
		"tenant lookup (absent)": c.Tenant("qa") == nil,
	}
	want := map[string]any{
		"repo.path":              filepath.Join(dir, "isc-config"),
		"repo.branch":            "main",
		"repo.author":            Author{Name: "promoter", Email: "promoter@localhost"},
		"repo.auth.username":     "",
		"dev.name":               "dev",
		"dev.baseURL":            "https://acme-sb.api.identitynow.com",
		"dev.apiVersion":         "v2025",
		"dev.tokenURL":           "https://acme-sb.api.identitynow.com/oauth/token",
		"prod.clientIDFile":      filepath.Join(dir, "prod-client-id"),
		"includeTypes":           spconfig.ExportableTypes(),
		"types":                  spconfig.ExportableTypes(),
		"mode":                   "auto",
		"gate.maxChanges":        50,
		"gate.onDrift":           "block",
		"guard.maxDropPercent":   20.0,
		"guard.minObjects":       0,
		"secretScan.action":      "refuse",
		"jobTimeout":             30 * time.Minute,
		"pullRequest.prefix":     "promoter/",
		"pullRequest.baseURL":    "",
		"serve.listen":           ":8080",
		"log":                    Log{Format: "auto", Level: "info"},
		"log.slogLevel":          slog.LevelInfo,
		"schedule (on demand)":   "",
		"changeLimit":            "50 true",
		"notifications (none)":   0,
		"config path":            filepath.Join("testdata", "config", "minimal.yaml"),
		"tenant lookup":          "prod",
		"tenant lookup (absent)": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	// Defaults must not share the package's type list.
	p.IncludeTypes[0] = "CHANGED"
	if spconfig.ExportableTypes()[0] == "CHANGED" {
		t.Fatal("includeTypes default aliases spconfig's list of exportable types")
	}
}

func TestDefaultsExplicitValues(t *testing.T) {
	y := baseConfig + `    gate: {maxChanges: 0}
    guard: {maxDropPercent: 0}
    mode: pull-request
    pullRequest: {provider: gitlab, repo: group/isc, tokenEnv: GL}
notifications:
  - {type: webhook, url: "https://h.example"}
`
	c, err := Parse("x.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pipelines[0]
	if p.Gate.MaxChanges != 50 {
		t.Errorf("maxChanges 0 -> %d, want the default 50", p.Gate.MaxChanges)
	}
	if p.Guard.MaxDropPercent != 0 {
		t.Errorf("explicit maxDropPercent 0 -> %v, want 0 (no drop allowed)", p.Guard.MaxDropPercent)
	}
	if p.PullRequest.BaseURL != "https://gitlab.com/api/v4" {
		t.Errorf("gitlab base URL = %q", p.PullRequest.BaseURL)
	}
	if !slices.Equal(c.Notifications[0].Events, notificationEvents) {
		t.Errorf("events default = %v", c.Notifications[0].Events)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	ps := problems(t, err)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "cannot read") {
		t.Errorf("problems = %+v", ps)
	}
}

func TestPipelineSelection(t *testing.T) {
	one, err := Parse("one.yaml", []byte(baseConfig))
	if err != nil {
		t.Fatal(err)
	}
	two, err := Parse("two.yaml", []byte(withUAT(t)+"  - {name: dev-to-uat, source: dev, target: uat}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		c       *Config
		name    string
		want    string
		wantErr string
	}{
		{one, "", "dev-to-prod", ""},
		{one, "dev-to-prod", "dev-to-prod", ""},
		{one, "nope", "", `no pipeline named "nope"; defined pipelines: dev-to-prod`},
		{two, "", "", "defines 2 pipelines (dev-to-prod, dev-to-uat); choose one with --pipeline NAME"},
		{two, "dev-to-uat", "dev-to-uat", ""},
	}
	for _, c := range cases {
		p, err := c.c.Pipeline(c.name)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Pipeline(%q) error = %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || p.Name != c.want {
			t.Errorf("Pipeline(%q) = %v, %v; want %s", c.name, p, err, c.want)
		}
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prod-id"), []byte("prod-client\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(baseConfig, "    clientIDEnv: PROD_ID\n", "    clientIDFile: "+filepath.Join(dir, "prod-id")+"\n", 1) + `serve: {triggerTokenEnv: TRIGGER}
notifications:
  - {type: slack, urlEnv: SLACK_URL}
  - {type: webhook, url: "https://h.example/x"}
`
	c, err := Parse("s.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DEV_ID": "dev-client", "DEV_SECRET": "dev-s3cret-value", "PROD_SECRET": "prod-s3cret-value",
		"TRIGGER": "trigger-s3cret", "SLACK_URL": "https://hooks.slack.com/services/T/B/s3cret",
	}
	s, err := c.ResolveSecrets(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("ResolveSecrets: %v", err)
	}
	want := &Secrets{
		Tenants: map[string]TenantSecrets{
			"dev":  {ClientID: "dev-client", ClientSecret: "dev-s3cret-value"},
			"prod": {ClientID: "prod-client", ClientSecret: "prod-s3cret-value"},
		},
		TriggerToken:      "trigger-s3cret",
		NotificationURLs:  map[int]string{0: env["SLACK_URL"], 1: "https://h.example/x"},
		PullRequestTokens: map[string]string{},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}

	// Secrets never print.
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "secrets", s, "tenant", s.Tenants["dev"])
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v %#v %v %s", s, s, *s, s.Tenants["dev"]), logBuf.String()} {
		for _, v := range env {
			if strings.Contains(out, v) {
				t.Errorf("printed secrets contain %q: %s", v, out)
			}
		}
	}
}

func TestResolveSecretsMissing(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(baseConfig, "    clientIDEnv: PROD_ID\n", "    clientIDFile: "+filepath.Join(dir, "absent")+"\n", 1)
	y = strings.Replace(y, "  path: /tmp/repo\n", "  path: /tmp/repo\n  remote: https://git.example/r.git\n  auth: {tokenFile: "+empty+"}\n", 1)
	y += `    mode: pull-request
    pullRequest: {provider: github, repo: acme/isc, tokenEnv: GH_TOKEN}
serve: {triggerTokenEnv: TRIGGER}
notifications:
  - {type: slack, urlEnv: SLACK_URL}
`
	c, err := Parse("s.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEV_ID": "dev-client", "PROD_SECRET": "prod-s3cret-value", "SLACK_URL": "http://hooks.example/s3cret-url"}
	_, err = c.ResolveSecrets(func(k string) string { return env[k] })
	ps := problems(t, err)
	type short struct {
		Line int
		Path string
		Has  string
	}
	var got []short
	wants := []short{
		{4, "repo.auth.tokenFile", "file " + empty + " (git token) is empty"},
		{9, "tenants.dev.clientSecretEnv", "environment variable DEV_SECRET (client secret of tenant dev) is not set"},
		{12, "tenants.prod.clientIDFile", "cannot read client id of tenant prod from file " + filepath.Join(dir, "absent") + ": no such file"},
		{19, "pipelines[0].pullRequest.tokenEnv", "GH_TOKEN (github token of pipeline dev-to-prod)"},
		{20, "serve.triggerTokenEnv", "TRIGGER (manual trigger token)"},
		{22, "notifications[0].urlEnv", "SLACK_URL does not hold an https URL"},
	}
	for i, p := range ps {
		s := short{p.Line, p.Path, ""}
		if i < len(wants) && strings.Contains(p.Msg, wants[i].Has) {
			s.Has = wants[i].Has
		} else {
			s.Has = p.Msg
		}
		got = append(got, s)
	}
	if diff := cmp.Diff(wants, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	for _, v := range env {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error contains the secret %q:\n%v", v, err)
		}
	}
}

func TestDenyWindowOpenAt(t *testing.T) {
	c, err := Parse("w.yaml", []byte(baseConfig+`    gate:
      denyWindows:
        - {cron: "CRON_TZ=Europe/Berlin 0 18 * * 5", duration: 62h}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Pipelines[0].Gate
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 1, day, hour, minute, 0, 0, berlin) }
	monday8 := at(12, 8, 0)
	cases := []struct {
		name   string
		now    time.Time
		open   bool
		closes time.Time
	}{
		{"friday before", at(9, 17, 59), false, time.Time{}},
		{"friday at opening", at(9, 18, 0), true, monday8},
		{"sunday noon", at(11, 12, 0), true, monday8},
		{"sunday noon in UTC", at(11, 12, 0).UTC(), true, monday8},
		{"monday just before close", at(12, 7, 59), true, monday8},
		{"monday at close", monday8, false, time.Time{}},
		{"wednesday", at(14, 12, 0), false, time.Time{}},
	}
	for _, tc := range cases {
		_, closes, open := g.OpenDenyWindow(tc.now)
		if open != tc.open || !closes.Equal(tc.closes) {
			t.Errorf("%s: open=%v closes=%v, want %v %v", tc.name, open, closes, tc.open, tc.closes)
		}
	}
	// A window built in code (not validated) parses its cron on demand.
	w := DenyWindow{Cron: "0 0 * * *", Duration: Duration{time.Hour}}
	if _, open := w.OpenAt(time.Date(2026, 1, 1, 0, 30, 0, 0, time.Local)); !open {
		t.Error("unvalidated window not open 30 minutes after midnight")
	}
}

func TestGateHelpers(t *testing.T) {
	c, err := Parse("g.yaml", []byte(baseConfig+`    gate: {allowWarnings: ["^Object to be imported", "(?i)deprecated"], maxChanges: -1}
    exclude:
      - {type: RULE, name: "/^Sandbox - /"}
      - {type: LIFECYCLE_STATE, name: "Contractors / inactive"}
      - {name: Exact Name}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pipelines[0]
	for text, want := range map[string]bool{
		"Object to be imported: x": true, "This is DEPRECATED": true, "Object not found": false,
	} {
		if got := p.Gate.WarningAllowed(text); got != want {
			t.Errorf("WarningAllowed(%q) = %v", text, got)
		}
	}
	if n, limited := p.Gate.ChangeLimit(); limited {
		t.Errorf("ChangeLimit() = %d, true; want unlimited", n)
	}
	excl := []struct {
		typ, scope, name string
		want             bool
	}{
		{"RULE", "", "Sandbox - Test", true},
		{"RULE", "", "Prod Rule", false},
		{"SOURCE", "", "Sandbox - Test", false},
		{"LIFECYCLE_STATE", "Contractors", "inactive", true},
		{"LIFECYCLE_STATE", "Employees", "inactive", false},
		{"TRANSFORM", "", "Exact Name", true},
	}
	for _, x := range excl {
		if got := p.Excluded(x.typ, x.scope, x.name); got != x.want {
			t.Errorf("Excluded(%s, %q, %q) = %v", x.typ, x.scope, x.name, got)
		}
	}
}

func TestParsePath(t *testing.T) {
	cases := []struct {
		path    string
		want    []PathSegment
		wantErr string
	}{
		{"$.connectorAttributes.host", []PathSegment{{Key: "connectorAttributes"}, {Key: "host"}}, ""},
		{"$.schemas[0].name", []PathSegment{{Key: "schemas"}, {Index: 0, IsIndex: true}, {Key: "name"}}, ""},
		{"$['key with space']", []PathSegment{{Key: "key with space"}}, ""},
		{`$["group.filetransport"][12]`, []PathSegment{{Key: "group.filetransport"}, {Index: 12, IsIndex: true}}, ""},
		{"$['it''s']", nil, "unterminated"},
		{"$", nil, "whole object"},
		{"", nil, "must start with $"},
		{"$..a", nil, "empty key"},
		{"$.a.", nil, "empty key"},
		{"$.a[*]", nil, "wildcards"},
		{"$.a[-1]", nil, "neither an array index"},
		{"$.a[+1]", nil, "neither an array index"},
		{"$['a'", nil, "unterminated"},
		{"$['a]']", nil, "may not contain ]"},
		{"$x", nil, "unexpected"},
	}
	for _, c := range cases {
		got, err := ParsePath(c.path)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParsePath(%q) = %v, %v; want error %q", c.path, got, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePath(%q): %v", c.path, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ParsePath(%q) (-want +got):\n%s", c.path, diff)
		}
	}
	m := Mapping{Path: "$.a[1]"}
	if segs, err := m.Segments(); err != nil || len(segs) != 2 {
		t.Errorf("Mapping.Segments() = %v, %v", segs, err)
	}
}

// repoRoot walks up to the folder holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("go.mod not found above the test's folder")
	return ""
}

// TestExampleConfig parses promotion.yaml.example, resolves its secrets with
// the variables it names, and checks that it shows every key of the schema.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join(repoRoot(t), "promotion.yaml.example")
	c, err := Load(path)
	if err != nil {
		t.Fatalf("the example does not validate:\n%v", err)
	}
	env := map[string]string{}
	for _, v := range []string{"GIT_TOKEN", "DEV_CLIENT_ID", "DEV_CLIENT_SECRET", "PROD_CLIENT_ID", "PROD_CLIENT_SECRET", "PROMOTER_TRIGGER_TOKEN"} {
		env[v] = "value-of-" + v
	}
	env["SLACK_WEBHOOK_URL"] = "https://hooks.slack.com/services/T0/B0/x"
	if _, err := c.ResolveSecrets(func(k string) string { return env[k] }); err != nil {
		t.Fatalf("ResolveSecrets on the example: %v", err)
	}
	if _, err := c.ResolveSecrets(func(string) string { return "" }); err == nil {
		t.Error("ResolveSecrets without variables succeeded; the example names no secret variable?")
	}
	p, err := c.Pipeline("")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(p.Types(), "AUTH_ORG") {
		t.Error("the example promotes AUTH_ORG; it must be excluded by policy")
	}
	want := Mapping{Type: "SOURCE", Name: "Active Directory", Path: "$.connectorAttributes.host", From: "ad.dev.acme.local", To: "ad.acme.local"}
	if len(p.Mappings) != 1 || p.Mappings[0] != want {
		t.Errorf("example mappings = %+v, want [%+v]", p.Mappings, want)
	}
	if c.Tenants["dev"].BaseURL != "https://acme-sb.api.identitynow.com" || c.Tenants["prod"].BaseURL != "https://acme.api.identitynow.com" {
		t.Errorf("example tenants are not the sample tenants acme-sb and acme")
	}

	// Every key of the schema appears in the example (set or commented).
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(tp reflect.Type, at string)
	walk = func(tp reflect.Type, at string) {
		switch tp.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			walk(tp.Elem(), at)
			return
		case reflect.Struct:
		default:
			return
		}
		if tp == reflect.TypeFor[Duration]() {
			return
		}
		for i := range tp.NumField() {
			f := tp.Field(i)
			key := f.Tag.Get("yaml")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			if !bytes.Contains(text, []byte(key+":")) {
				t.Errorf("promotion.yaml.example does not show key %s.%s", at, key)
			}
			walk(f.Type, at+"."+key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

// FuzzParse checks that Parse never panics, that every failure is a
// *Error with at least one problem, and that an accepted
// configuration validates again and selects pipelines without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(baseConfig))
	f.Add([]byte(baseConfig + "    schedule: CRON_TZ=Europe/Berlin\n"))
	f.Add([]byte(baseConfig + "    gate: {denyWindows: [{cron: \"0 18 * * 5\", duration: 62h}]}\n    mappings: [{type: SOURCE, path: \"$['a'][0]\", from: a, to: b}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("repo: {path: x}\ntenants: {a: ~}\npipelines: [~, {<<: [{name: a}]}]\n"))
	f.Add([]byte("\t"))
	f.Add([]byte("- 1\n- 2\n"))
	if data, err := os.ReadFile(filepath.Join("testdata", "config", "many-problems.yaml")); err == nil {
		f.Add(data)
	}
	if dir, err := os.Getwd(); err == nil {
		if data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "promotion.yaml.example")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v (%T) is not a *Error with problems", err, err)
			}
			_ = err.Error()
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate again: %v", err)
		}
		_, _ = c.Pipeline("")
		for _, p := range c.Pipelines {
			p.Gate.OpenDenyWindow(time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC))
			for _, m := range p.Mappings {
				if _, err := m.Segments(); err != nil {
					t.Fatalf("accepted mapping path %q does not parse: %v", m.Path, err)
				}
			}
		}
	})
}
