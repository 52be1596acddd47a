package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"promoter/config"
	"promoter/gitstore"
	"promoter/spconfig"
)

// Env is what wiring a runner needs from outside the configuration.
type Env struct {
	Logger *slog.Logger
	// Observer receives every API request (metrics); optional.
	Observer func(tenant string, ev spconfig.RequestEvent)
}

// OpenStore opens (creating or cloning when needed) the configured repository.
func OpenStore(ctx context.Context, cfg *config.Config, sec *config.Secrets, logger *slog.Logger) (*gitstore.Repo, error) {
	repo, err := gitstore.Open(ctx, gitstore.Options{
		Path:        cfg.RepoPath(),
		Remote:      cfg.Repo.Remote,
		Branch:      cfg.Repo.Branch,
		Token:       sec.GitToken,
		Username:    cfg.Repo.Auth.Username,
		SSHKeyFile:  cfg.Repo.Auth.SSHKeyFile,
		AuthorName:  cfg.Repo.Author.Name,
		AuthorEmail: cfg.Repo.Author.Email,
		Logger:      logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", cfg.RepoPath(), err)
	}
	return repo, nil
}

// NewClient builds the SP-Config client of a configured tenant. attempt,
// when positive, bounds one HTTP attempt's wait for an answer (a pipeline
// gives its jobTimeout when that is shorter than the client's default).
func NewClient(cfg *config.Config, sec *config.Secrets, tenant string, env Env, attempt time.Duration) (*spconfig.Client, error) {
	t, ok := cfg.Tenants[tenant]
	if !ok {
		return nil, fmt.Errorf("tenant %q is not configured", tenant)
	}
	s := sec.Tenants[tenant]
	ccfg := spconfig.Config{
		BaseURL:      t.BaseURL,
		APIVersion:   t.APIVersion,
		TokenURL:     t.TokenURL,
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Logger:       env.Logger,
	}
	if attempt > 0 && attempt < spconfig.DefaultAttemptTimeout {
		ccfg.AttemptTimeout = attempt
	}
	if t.RateLimit > 0 {
		ccfg.RateLimit = t.RateLimit
	}
	if env.Observer != nil {
		ccfg.Observer = func(ev spconfig.RequestEvent) { env.Observer(tenant, ev) }
	}
	c, err := spconfig.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", tenant, err)
	}
	return c, nil
}

// NewRunner wires a runner for the named pipeline ("" when there is only one).
func NewRunner(cfg *config.Config, sec *config.Secrets, name string, store Store, env Env) (*Runner, error) {
	p, err := cfg.Pipeline(name)
	if err != nil {
		return nil, err
	}
	src, err := NewClient(cfg, sec, p.Source, env, p.JobTimeout.Duration)
	if err != nil {
		return nil, err
	}
	dst, err := NewClient(cfg, sec, p.Target, env, p.JobTimeout.Duration)
	if err != nil {
		return nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		Config:   cfg,
		Pipeline: p,
		Store:    store,
		Source:   src,
		Target:   dst,
		Logger:   logger,
	}
	if p.Deploy.ConfigurationHub {
		r.Hub = dst
	}
	return r, nil
}
