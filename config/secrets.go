package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"promoter/spconfig"
)

// Secrets never live in the file: it names environment variables or files
// that hold them; Secrets is what they resolve to, redacted in every format.

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
func (Secrets) String() string { return "REDACTED" }

func (Secrets) GoString() string { return "REDACTED" }

func (Secrets) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }

func (Secrets) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func (TenantSecrets) String() string { return "REDACTED" }

func (TenantSecrets) GoString() string { return "REDACTED" }

func (TenantSecrets) Format(f fmt.State, _ rune) { fmt.Fprint(f, "REDACTED") }

func (TenantSecrets) LogValue() slog.Value { return slog.StringValue("REDACTED") }

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
