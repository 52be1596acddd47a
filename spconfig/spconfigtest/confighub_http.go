package spconfigtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Scopes of the Configuration Hub endpoints, the spec's userAuth lists.
var (
	scopesBackupRead  = []string{"sp:config-backup:read", "sp:config-backup:manage"}
	scopesBackupMgmt  = []string{"sp:config-backup:manage"}
	scopesActionRead  = []string{"sp:config-scheduled-action:read", "sp:config-scheduled-action:manage"}
	scopesActionMgmt  = []string{"sp:config-scheduled-action:manage"}
	scopesDraftRead   = []string{"sp:config-draft:read", "sp:config-draft:manage"}
	scopesDraftMgmt   = []string{"sp:config-draft:manage"}
	scopesDeployRead  = []string{"sp:config-deploy:read", "sp:config-deploy:manage"}
	scopesDeployMgmt  = []string{"sp:config-deploy:manage"}
	hubNotFoundText   = "The server did not find a current representation for the target resource."
	hubForbiddenText  = "The server understood the request but refuses to authorize it."
	hubFilterClause   = regexp.MustCompile(`^\s*(\w+)\s+(\w+)\s+"([^"]*)"\s*$`)
	hubFilterAnd      = regexp.MustCompile(`(?i)\s+and\s+`)
	hubActionNameMax  = 50
	hubScheduledTypes = []string{hubTypeBackup, hubTypeDraft, hubTypeDeploy}
)

// hubPath maps /{ver}/configuration-hub/X to "X".
func hubPath(p string) (string, bool) {
	for _, v := range versionPrefixes {
		if rest, ok := strings.CutPrefix(p, v+"/configuration-hub/"); ok {
			return rest, true
		}
	}
	return "", false
}

// hubRoute is one Configuration Hub path: the scopes of each of its methods.
type hubRoute map[string][]string

// hubRouteOf returns the path's methods, or ok false for a path the fake does
// not serve.
func hubRouteOf(parts []string) (hubRoute, bool) {
	switch {
	case len(parts) == 2 && parts[0] == "backups" && parts[1] == "uploads":
		return hubRoute{http.MethodGet: scopesBackupRead, http.MethodPost: scopesBackupMgmt}, true
	case len(parts) == 3 && parts[0] == "backups" && parts[1] == "uploads":
		return hubRoute{http.MethodGet: scopesBackupRead, http.MethodDelete: scopesBackupMgmt}, true
	case len(parts) == 1 && parts[0] == "scheduled-actions":
		return hubRoute{http.MethodGet: scopesActionRead, http.MethodPost: scopesActionMgmt}, true
	case len(parts) == 2 && parts[0] == "scheduled-actions":
		return hubRoute{http.MethodPatch: scopesActionMgmt, http.MethodDelete: scopesActionMgmt}, true
	case len(parts) == 1 && parts[0] == "drafts":
		return hubRoute{http.MethodGet: scopesDraftRead}, true
	case len(parts) == 2 && parts[0] == "drafts":
		return hubRoute{http.MethodDelete: scopesDraftMgmt}, true
	case len(parts) == 1 && parts[0] == "deploys":
		return hubRoute{http.MethodGet: scopesDeployRead, http.MethodPost: scopesDeployMgmt}, true
	case len(parts) == 2 && parts[0] == "deploys":
		return hubRoute{http.MethodGet: scopesDeployRead}, true
	}
	return nil, false
}

// serveHub handles the Configuration Hub endpoints; rest is the path after
// /configuration-hub/. Checks run in the SP-Config order: 401, 429, injected
// fault, 404, 405, 403.
func (t *Tenant) serveHub(w http.ResponseWriter, r *http.Request, rest string) {
	claims, ok := t.admit(w, r)
	if !ok {
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	rt, known := hubRouteOf(parts)
	if !known || slices.Contains(parts, "") {
		t.notFound(w, hubNotFoundText)
		return
	}
	scopes, ok := rt[r.Method]
	if !ok {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			if _, ok := rt[m]; ok {
				allow = append(allow, m)
			}
		}
		t.methodNotAllowed(w, allow...)
		return
	}
	if !claims.allows(scopes) {
		t.errorBody(w, http.StatusForbidden, "403 Forbidden", hubForbiddenText)
		return
	}
	who := claims.UserName
	switch {
	case parts[0] == "backups" && len(parts) == 2 && r.Method == http.MethodGet:
		t.serveListUploads(w, r)
	case parts[0] == "backups" && len(parts) == 2:
		t.serveCreateUpload(w, r, who)
	case parts[0] == "backups" && r.Method == http.MethodGet:
		t.serveGetUpload(w, parts[2])
	case parts[0] == "backups":
		t.serveDeleteUpload(w, parts[2])
	case parts[0] == "scheduled-actions" && len(parts) == 1 && r.Method == http.MethodGet:
		t.serveListActions(w)
	case parts[0] == "scheduled-actions" && len(parts) == 1:
		t.serveCreateAction(w, r, who)
	case parts[0] == "scheduled-actions" && r.Method == http.MethodPatch:
		t.servePatchAction(w, r, parts[1])
	case parts[0] == "scheduled-actions":
		t.serveDeleteAction(w, parts[1])
	case parts[0] == "drafts" && len(parts) == 1:
		t.serveListDrafts(w, r)
	case parts[0] == "drafts":
		t.serveDeleteDraft(w, parts[1])
	case parts[0] == "deploys" && len(parts) == 1 && r.Method == http.MethodGet:
		t.serveListDeploys(w)
	case parts[0] == "deploys" && len(parts) == 1:
		t.serveCreateDeploy(w, r, who)
	default:
		t.serveGetDeploy(w, parts[1])
	}
}

// parseHubFilters parses a filters parameter of clauses `field eq "value"`
// joined by "and", allowing only the given fields.
func parseHubFilters(s string, fields ...string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, clause := range hubFilterAnd.Split(strings.TrimSpace(s), -1) {
		m := hubFilterClause.FindStringSubmatch(clause)
		if m == nil {
			return nil, fmt.Errorf("clause %q is not field eq \"value\"", clause)
		}
		if !slices.Contains(fields, m[1]) {
			return nil, fmt.Errorf("filtering is not supported for the field %q (supported: %s)", m[1], strings.Join(fields, ", "))
		}
		if !strings.EqualFold(m[2], "eq") {
			return nil, fmt.Errorf("operator %q is not supported for the field %q: use eq", m[2], m[1])
		}
		out[m[1]] = m[3]
	}
	return out, nil
}

// readJSONBody reads a JSON request body of at most 1 MiB into v, or writes
// the 400 and returns false.
func (t *Tenant) readJSONBody(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		t.badRequest(w, "Content type '"+r.Header.Get("Content-Type")+"' not supported: send the "+what+" as application/json.")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		t.badRequest(w, "The request body could not be read: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.badRequest(w, "The request body is not a valid "+what+": "+err.Error())
		return false
	}
	return true
}

// serveHubAdmin is the Configuration Hub part of the admin API:
// GET /_fake/configuration-hub and PUT /_fake/drafts/{id}.
func (t *Tenant) serveHubAdmin(w http.ResponseWriter, r *http.Request, what string) bool {
	switch {
	case what == "configuration-hub" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, t.ConfigurationHub())
	case what == "configuration-hub":
		t.methodNotAllowed(w, http.MethodGet)
	case strings.HasPrefix(what, "drafts/") && r.Method == http.MethodPut:
		id := strings.TrimPrefix(what, "drafts/")
		var in struct {
			ApprovalStatus string `json:"approvalStatus"`
			Comment        string `json:"comment"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			t.badRequest(w, `PUT /_fake/drafts/{id} wants {"approvalStatus": "PENDING_APPROVAL"|"APPROVED"|"DENIED"|"DEFAULT", "comment": "..."}`)
			return true
		}
		err := t.SetDraftApproval(id, in.ApprovalStatus, in.Comment)
		switch {
		case errors.Is(err, errNotFound):
			t.notFound(w, err.Error())
		case err != nil:
			t.badRequest(w, err.Error())
		default:
			t.mu.Lock()
			out := draftJSON(t.findDraftLocked(id))
			t.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
		}
	case strings.HasPrefix(what, "drafts/"):
		t.methodNotAllowed(w, http.MethodPut)
	default:
		return false
	}
	return true
}
