// Package forgetest is a fake of the GitHub and GitLab REST endpoints
// promoter uses for pull-request mode, for tests: GitHub's pulls API at the
// server's root (like https://api.github.com) and GitLab's merge requests
// API under /api/v4. It checks the token, the repository and the request
// shapes, keeps pull requests in memory and can fail requests on demand.
//
// It owns nothing outside tests; the real clients are in package forge.
package forgetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Options configure a fake forge.
type Options struct {
	Token string // required token (GitHub bearer, GitLab PRIVATE-TOKEN)
	// GitHubRepo is "owner/name"; GitLabProject is the project's path
	// (group/name) and GitLabID its numeric id: both address it.
	GitHubRepo    string
	GitLabProject string
	GitLabID      int
	// BranchExists, when set, decides whether a head branch exists; a pull
	// request from a missing branch is refused as the real forges do.
	BranchExists func(branch string) bool
}

// PullRequest is one pull (or merge) request the fake holds.
type PullRequest struct {
	Forge   string // github | gitlab
	Number  int    // GitHub number or GitLab iid
	Head    string
	Base    string
	Title   string
	Body    string
	State   string // open | closed (GitHub); opened | merged | closed (GitLab)
	Merged  bool   // GitHub: closed by a merge (merged_at is set)
	Updates int    // body updates after creation
	URL     string
}

// Request is one request the fake received.
type Request struct {
	Method, Path, Query string
	Body                string
	Auth                string // the credential header as received
}

// Server is a running fake forge on 127.0.0.1.
type Server struct {
	URL string // GitHub API root; GitLab's is URL + "/api/v4"
	o   Options
	srv *httptest.Server

	mu       sync.Mutex
	prs      []*PullRequest
	requests []Request
	failures []failure
}

type failure struct {
	status     int
	retryAfter string
}

// Start starts a fake forge; Close it when done.
func Start(o Options) *Server {
	s := &Server{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/{owner}/{repo}/pulls", s.githubList)
	mux.HandleFunc("POST /repos/{owner}/{repo}/pulls", s.githubCreate)
	mux.HandleFunc("PATCH /repos/{owner}/{repo}/pulls/{number}", s.githubUpdate)
	mux.HandleFunc("GET /api/v4/projects/{id}/merge_requests", s.gitlabList)
	mux.HandleFunc("POST /api/v4/projects/{id}/merge_requests", s.gitlabCreate)
	mux.HandleFunc("PUT /api/v4/projects/{id}/merge_requests/{iid}", s.gitlabUpdate)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		body := string(data)
		r.Body = http.NoBody
		auth := r.Header.Get("Authorization")
		if strings.HasPrefix(r.URL.Path, "/api/v4/") {
			auth = r.Header.Get("PRIVATE-TOKEN")
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: body, Auth: auth})
		var fail *failure
		if len(s.failures) > 0 {
			fail = &s.failures[0]
			s.failures = s.failures[1:]
		}
		s.mu.Unlock()
		if fail != nil {
			if fail.retryAfter != "" {
				w.Header().Set("Retry-After", fail.retryAfter)
			}
			writeJSON(w, fail.status, map[string]string{"message": fmt.Sprintf("injected failure %d", fail.status)})
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, body)))
	}))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailNext makes the next n requests answer status (with Retry-After when
// retryAfter is not empty).
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, retryAfter: retryAfter})
	}
}

// PullRequests returns copies of the pull requests held.
func (s *Server) PullRequests() []PullRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PullRequest, 0, len(s.prs))
	for _, p := range s.prs {
		out = append(out, *p)
	}
	return out
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ---- GitHub ----

type githubPull struct {
	Number   int               `json:"number"`
	HTMLURL  string            `json:"html_url"`
	State    string            `json:"state"`
	MergedAt *string           `json:"merged_at"`
	Title    string            `json:"title"`
	Body     string            `json:"body"`
	Head     map[string]string `json:"head"`
	Base     map[string]string `json:"base"`
}

func (s *Server) githubPull(p *PullRequest) githubPull {
	owner, _, _ := strings.Cut(s.o.GitHubRepo, "/")
	g := githubPull{Number: p.Number, HTMLURL: p.URL, State: p.State, Title: p.Title, Body: p.Body,
		Head: map[string]string{"ref": p.Head, "label": owner + ":" + p.Head}, Base: map[string]string{"ref": p.Base}}
	if p.Merged {
		at := "2026-01-01T00:00:00Z"
		g.MergedAt = &at
	}
	return g
}

// githubAuth checks the token and repository; false means it answered.
func (s *Server) githubAuth(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+s.o.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return false
	}
	if r.PathValue("owner")+"/"+r.PathValue("repo") != s.o.GitHubRepo {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
		return false
	}
	return true
}

func (s *Server) githubList(w http.ResponseWriter, r *http.Request) {
	if !s.githubAuth(w, r) {
		return
	}
	head, state := r.URL.Query().Get("head"), r.URL.Query().Get("state")
	if state == "" {
		state = "open"
	}
	owner, _, _ := strings.Cut(s.o.GitHubRepo, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []githubPull{}
	for _, p := range s.prs {
		if p.Forge != "github" || (state != "all" && p.State != state) {
			continue
		}
		if head != "" && head != owner+":"+p.Head {
			continue
		}
		out = append(out, s.githubPull(p))
	}
	writeJSON(w, http.StatusOK, page(out, r.URL.Query()))
}

func (s *Server) githubCreate(w http.ResponseWriter, r *http.Request) {
	if !s.githubAuth(w, r) {
		return
	}
	var in struct {
		Title, Head, Base, Body string
	}
	if err := json.Unmarshal([]byte(bodyOf(r)), &in); err != nil || in.Title == "" || in.Head == "" || in.Base == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.", "errors": []map[string]string{{"message": "title, head and base are required"}}})
		return
	}
	if len([]rune(in.Body)) > 65536 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "Issue", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}}})
		return
	}
	if s.o.BranchExists != nil && !s.o.BranchExists(in.Head) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "PullRequest", "field": "head", "code": "invalid"}}})
		return
	}
	owner, _, _ := strings.Cut(s.o.GitHubRepo, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Forge == "github" && p.State == "open" && p.Head == in.Head {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for " + owner + ":" + in.Head + "."}}})
			return
		}
	}
	n := len(s.prs) + 1
	p := &PullRequest{Forge: "github", Number: n, Head: in.Head, Base: in.Base, Title: in.Title, Body: in.Body, State: "open",
		URL: fmt.Sprintf("%s/%s/pull/%d", s.URL, s.o.GitHubRepo, n)}
	s.prs = append(s.prs, p)
	writeJSON(w, http.StatusCreated, s.githubPull(p))
}

func (s *Server) githubUpdate(w http.ResponseWriter, r *http.Request) {
	if !s.githubAuth(w, r) {
		return
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	var in map[string]*string
	if err := json.Unmarshal([]byte(bodyOf(r)), &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Forge == "github" && p.Number == n {
			if v := in["title"]; v != nil {
				p.Title = *v
			}
			if v := in["body"]; v != nil {
				p.Body = *v
				p.Updates++
			}
			writeJSON(w, http.StatusOK, s.githubPull(p))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

// ---- GitLab ----

type gitlabMR struct {
	IID          int    `json:"iid"`
	WebURL       string `json:"web_url"`
	State        string `json:"state"`
	Title        string `json:"title"`
	Description  string `json:"description"`
	SourceBranch string `json:"source_branch"`
	TargetBranch string `json:"target_branch"`
}

func gitlabView(p *PullRequest) gitlabMR {
	return gitlabMR{IID: p.Number, WebURL: p.URL, State: p.State, Title: p.Title, Description: p.Body, SourceBranch: p.Head, TargetBranch: p.Base}
}

func (s *Server) gitlabAuth(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("PRIVATE-TOKEN") != s.o.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return false
	}
	id := r.PathValue("id") // unescaped: group/name
	if id != s.o.GitLabProject && id != strconv.Itoa(s.o.GitLabID) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return false
	}
	return true
}

func (s *Server) gitlabList(w http.ResponseWriter, r *http.Request) {
	if !s.gitlabAuth(w, r) {
		return
	}
	src, state := r.URL.Query().Get("source_branch"), r.URL.Query().Get("state")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []gitlabMR{}
	for _, p := range s.prs {
		if p.Forge != "gitlab" || (state != "" && state != "all" && p.State != state) || (src != "" && p.Head != src) {
			continue
		}
		out = append(out, gitlabView(p))
	}
	writeJSON(w, http.StatusOK, page(out, r.URL.Query()))
}

func (s *Server) gitlabCreate(w http.ResponseWriter, r *http.Request) {
	if !s.gitlabAuth(w, r) {
		return
	}
	var in struct {
		SourceBranch string `json:"source_branch"`
		TargetBranch string `json:"target_branch"`
		Title        string `json:"title"`
		Description  string `json:"description"`
	}
	if err := json.Unmarshal([]byte(bodyOf(r)), &in); err != nil || in.SourceBranch == "" || in.TargetBranch == "" || in.Title == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "source_branch, target_branch, title are missing"})
		return
	}
	if s.o.BranchExists != nil && !s.o.BranchExists(in.SourceBranch) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": []string{"Source branch does not exist"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Forge == "gitlab" && p.State == "opened" && p.Head == in.SourceBranch {
			writeJSON(w, http.StatusConflict, map[string]any{"message": []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", p.Number)}})
			return
		}
	}
	n := len(s.prs) + 1
	p := &PullRequest{Forge: "gitlab", Number: n, Head: in.SourceBranch, Base: in.TargetBranch, Title: in.Title, Body: in.Description, State: "opened",
		URL: fmt.Sprintf("%s/%s/-/merge_requests/%d", s.URL, s.o.GitLabProject, n)}
	s.prs = append(s.prs, p)
	writeJSON(w, http.StatusCreated, gitlabView(p))
}

func (s *Server) gitlabUpdate(w http.ResponseWriter, r *http.Request) {
	if !s.gitlabAuth(w, r) {
		return
	}
	n, _ := strconv.Atoi(r.PathValue("iid"))
	var in map[string]*string
	if err := json.Unmarshal([]byte(bodyOf(r)), &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Forge == "gitlab" && p.Number == n {
			if v := in["title"]; v != nil {
				p.Title = *v
			}
			if v := in["description"]; v != nil {
				p.Body = *v
				p.Updates++
			}
			writeJSON(w, http.StatusOK, gitlabView(p))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
}

// ClosePullRequest closes (GitHub) or marks merged (GitLab) the numbered
// pull request, so the next run opens a new one.
func (s *Server) ClosePullRequest(number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Number == number {
			if p.Forge == "github" {
				p.State = "closed"
			} else {
				p.State = "merged"
			}
		}
	}
}

// DeclinePullRequest closes the numbered pull request without merging it
// (GitHub state closed with no merged_at; GitLab state closed).
func (s *Server) DeclinePullRequest(number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Number == number {
			p.State, p.Merged = "closed", false
		}
	}
}

// MergePullRequest marks the numbered pull request merged (the test merges
// the branch with git itself).
func (s *Server) MergePullRequest(number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prs {
		if p.Number == number {
			if p.Forge == "github" {
				p.State, p.Merged = "closed", true
			} else {
				p.State = "merged"
			}
		}
	}
}

// page orders a list newest first when the query asks for descending order
// (GitHub direction=desc, GitLab sort=desc) and cuts it to per_page.
func page[T any](items []T, q url.Values) []T {
	if q.Get("direction") == "desc" || q.Get("sort") == "desc" {
		items = slices.Clone(items)
		slices.Reverse(items)
	}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n >= 0 && n < len(items) {
		items = items[:n]
	}
	return items
}

type bodyKey struct{}

// bodyOf returns the request body the outer handler read.
func bodyOf(r *http.Request) string {
	s, _ := r.Context().Value(bodyKey{}).(string)
	return s
}
