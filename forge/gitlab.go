package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// gitlabBodyLimit is GitLab's limit on a merge request description.
const gitlabBodyLimit = 1_000_000

// GitLab opens merge requests through the GitLab REST API v4 (gitlab.com or
// self-managed, whose API root is https://HOST/api/v4).
type GitLab struct {
	c       *client
	project string // URL-escaped id or path
}

// NewGitLab returns a client for a project given by numeric id or by path
// ("group/sub/name"); baseURL "" is https://gitlab.com/api/v4.
func NewGitLab(baseURL, project, token string, o Options) (*GitLab, error) {
	project = strings.Trim(project, "/")
	c, err := newClient("gitlab", baseURL, GitLabAPI, project, token, func(h http.Header, tok string) {
		h.Set("PRIVATE-TOKEN", tok)
	}, o)
	if err != nil {
		return nil, err
	}
	return &GitLab{c: c, project: url.PathEscape(project)}, nil
}

type gitlabMR struct {
	IID    int    `json:"iid"`
	WebURL string `json:"web_url"`
	State  string `json:"state"`
}

func (g *GitLab) mrPath() string { return "/projects/" + g.project + "/merge_requests" }

// OpenOrUpdate updates the title and description of the open merge request
// from pr.Branch, or opens one into pr.Base. It returns its URL.
func (g *GitLab) OpenOrUpdate(ctx context.Context, pr Request) (string, error) {
	body := fitBody(pr.Body, gitlabBodyLimit)
	if u, ok, err := g.update(ctx, pr, body); err != nil || ok {
		return u, err
	}
	var created gitlabMR
	err := g.c.do(ctx, "create merge request "+pr.Branch, http.MethodPost, g.mrPath(), map[string]any{
		"source_branch": pr.Branch, "target_branch": pr.Base, "title": pr.Title, "description": body,
	}, &created)
	var fe *Error
	if errors.As(err, &fe) && fe.StatusCode == http.StatusConflict {
		// "Another open merge request already exists for this source branch"
		if u, ok, err := g.update(ctx, pr, body); err != nil || ok {
			return u, err
		}
	}
	if err != nil {
		if errors.As(err, &fe) && (fe.StatusCode == http.StatusUnprocessableEntity || fe.StatusCode == http.StatusBadRequest) && fe.Hint == "" {
			fe.Hint = fmt.Sprintf("check that branch %s was pushed and target branch %s exists in %s", pr.Branch, pr.Base, g.c.repo)
		}
		return "", err
	}
	g.c.o.Logger.Info("opened merge request", "forge", "gitlab", "project", g.c.repo, "iid", created.IID, "url", created.WebURL)
	return created.WebURL, nil
}

// LastState says what became of the newest merge request from branch: open,
// merged, closed (without merging), or "" when there is none.
func (g *GitLab) LastState(ctx context.Context, branch string) (string, error) {
	q := url.Values{"source_branch": {branch}, "state": {"all"}, "order_by": {"created_at"}, "sort": {"desc"}, "per_page": {"1"}}
	var mrs []gitlabMR
	if err := g.c.do(ctx, "read merge requests of "+branch, http.MethodGet, g.mrPath()+"?"+q.Encode(), nil, &mrs); err != nil {
		return "", err
	}
	if len(mrs) == 0 {
		return "", nil
	}
	switch mrs[0].State {
	case "opened":
		return StateOpen, nil
	case "merged":
		return StateMerged, nil
	}
	return StateClosed, nil
}

// update finds the open merge request from pr.Branch and updates it.
func (g *GitLab) update(ctx context.Context, pr Request, body string) (string, bool, error) {
	q := url.Values{"source_branch": {pr.Branch}, "state": {"opened"}}
	var open []gitlabMR
	if err := g.c.do(ctx, "find merge request of "+pr.Branch, http.MethodGet, g.mrPath()+"?"+q.Encode(), nil, &open); err != nil {
		return "", false, err
	}
	if len(open) == 0 {
		return "", false, nil
	}
	cur := open[0]
	var updated gitlabMR
	err := g.c.do(ctx, fmt.Sprintf("update merge request !%d", cur.IID), http.MethodPut,
		fmt.Sprintf("%s/%d", g.mrPath(), cur.IID), map[string]any{"title": pr.Title, "description": body}, &updated)
	if err != nil {
		return "", false, err
	}
	if updated.WebURL == "" {
		updated.WebURL = cur.WebURL
	}
	g.c.o.Logger.Info("updated merge request", "forge", "gitlab", "project", g.c.repo, "iid", cur.IID, "url", updated.WebURL)
	return updated.WebURL, true, nil
}
