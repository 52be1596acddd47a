package config

import (
	"fmt"
	"slices"
	"strings"

	"promoter/spconfig"
)

// Defaults: applyDefaults is the only place a default is set.

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
