package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// githubBodyLimit is GitHub's limit on a pull request body (characters).
const githubBodyLimit = 65536

// GitHub opens pull requests through the GitHub REST API (github.com or
// GitHub Enterprise Server, whose API root is https://HOST/api/v3).
type GitHub struct {
	c            *client
	owner, name  string
	escapedOwner string
}

// NewGitHub returns a client for repository "owner/name"; baseURL "" is
// https://api.github.com.
func NewGitHub(baseURL, repo, token string, o Options) (*GitHub, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("github: repository %q is not owner/name; fix pullRequest.repo", repo)
	}
	c, err := newClient("github", baseURL, GitHubAPI, repo, token, func(h http.Header, tok string) {
		h.Set("Authorization", "Bearer "+tok)
		h.Set("Accept", "application/vnd.github+json")
		h.Set("X-GitHub-Api-Version", "2022-11-28")
	}, o)
	if err != nil {
		return nil, err
	}
	return &GitHub{c: c, owner: owner, name: name, escapedOwner: url.PathEscape(owner)}, nil
}

type githubPull struct {
	Number   int     `json:"number"`
	HTMLURL  string  `json:"html_url"`
	State    string  `json:"state"`
	MergedAt *string `json:"merged_at"`
}

// LastState says what became of the newest pull request from branch: open,
// merged, closed (without merging), or "" when there is none.
func (g *GitHub) LastState(ctx context.Context, branch string) (string, error) {
	q := url.Values{"head": {g.owner + ":" + branch}, "state": {"all"}, "sort": {"created"}, "direction": {"desc"}, "per_page": {"1"}}
	var pulls []githubPull
	if err := g.c.do(ctx, "read pull requests of "+branch, http.MethodGet, g.pullsPath()+"?"+q.Encode(), nil, &pulls); err != nil {
		return "", err
	}
	switch {
	case len(pulls) == 0:
		return "", nil
	case pulls[0].State == "open":
		return StateOpen, nil
	case pulls[0].MergedAt != nil:
		return StateMerged, nil
	}
	return StateClosed, nil
}

func (g *GitHub) pullsPath() string {
	return "/repos/" + g.escapedOwner + "/" + url.PathEscape(g.name) + "/pulls"
}

// OpenOrUpdate updates the title and body of the open pull request from
// pr.Branch, or opens one into pr.Base. It returns the pull request's URL.
func (g *GitHub) OpenOrUpdate(ctx context.Context, pr Request) (string, error) {
	body := fitBody(pr.Body, githubBodyLimit)
	if u, ok, err := g.update(ctx, pr, body); err != nil || ok {
		return u, err
	}
	var created githubPull
	err := g.c.do(ctx, "create pull request "+pr.Branch, http.MethodPost, g.pullsPath(), map[string]any{
		"title": pr.Title, "head": pr.Branch, "base": pr.Base, "body": body, "maintainer_can_modify": false,
	}, &created)
	var fe *Error
	if errors.As(err, &fe) && fe.StatusCode == http.StatusUnprocessableEntity && strings.Contains(fe.Message, "already exists") {
		// opened concurrently (or by a retried request): update that one
		if u, ok, err := g.update(ctx, pr, body); err != nil || ok {
			return u, err
		}
	}
	if err != nil {
		if errors.As(err, &fe) && fe.StatusCode == http.StatusUnprocessableEntity && fe.Hint == "" {
			fe.Hint = fmt.Sprintf("check that branch %s was pushed and base branch %s exists in %s", pr.Branch, pr.Base, g.c.repo)
		}
		return "", err
	}
	g.c.o.Logger.Info("opened pull request", "forge", "github", "repo", g.c.repo, "number", created.Number, "url", created.HTMLURL)
	return created.HTMLURL, nil
}

// update finds the open pull request from pr.Branch and updates it.
func (g *GitHub) update(ctx context.Context, pr Request, body string) (string, bool, error) {
	q := url.Values{"head": {g.owner + ":" + pr.Branch}, "state": {"open"}, "per_page": {"10"}}
	var open []githubPull
	if err := g.c.do(ctx, "find pull request of "+pr.Branch, http.MethodGet, g.pullsPath()+"?"+q.Encode(), nil, &open); err != nil {
		return "", false, err
	}
	if len(open) == 0 {
		return "", false, nil
	}
	cur := open[0]
	var updated githubPull
	err := g.c.do(ctx, fmt.Sprintf("update pull request #%d", cur.Number), http.MethodPatch,
		fmt.Sprintf("%s/%d", g.pullsPath(), cur.Number), map[string]any{"title": pr.Title, "body": body}, &updated)
	if err != nil {
		return "", false, err
	}
	if updated.HTMLURL == "" {
		updated.HTMLURL = cur.HTMLURL
	}
	g.c.o.Logger.Info("updated pull request", "forge", "github", "repo", g.c.repo, "number", cur.Number, "url", updated.HTMLURL)
	return updated.HTMLURL, true, nil
}
