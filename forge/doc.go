// Package forge opens and updates the pull request of a promotion branch on
// a git forge (pull-request mode, DESIGN section 5 step 4): GitHub and GitHub
// Enterprise through the REST API (pulls), GitLab and self-managed GitLab
// through the REST API v4 (merge requests). Both clients implement
// Client: find the open pull request whose head is the
// promotion branch and update its title and body (the Markdown plan), or
// open one.
//
// It does not push branches (package gitstore does, driven by pipeline),
// does not render plans (pipeline does) and never merges. The API token comes
// from the environment variable the configuration names; it is sent only in
// a request header and never appears in an error or a log line.
//
// Package forgetest holds a fake of both REST APIs for tests.
package forge
