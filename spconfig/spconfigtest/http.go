package spconfigtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"promoter/jsonspan"
	"promoter/spconfig"
)

// versionPrefixes are the API versions the SP-Config endpoints are mounted under.
var versionPrefixes = []string{"/beta", "/v2024", "/v2025", "/v2026"}

// ServeHTTP serves /oauth/token, the seven SP-Config endpoints under every
// version prefix and under /sp-config/v1, the Configuration Hub endpoints
// under every version prefix, GET / (ready) and the admin API.
func (t *Tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	t.serve(rec, r)
	t.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start).Round(time.Microsecond))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (t *Tenant) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			t.methodNotAllowed(w, http.MethodGet, http.MethodHead)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "tenant": t.name})
	case p == "/oauth/token":
		t.serveToken(w, r)
	case strings.HasPrefix(p, "/_fake/"):
		t.serveAdmin(w, r, strings.TrimPrefix(p, "/_fake/"))
	default:
		if rest, ok := hubPath(p); ok {
			t.serveHub(w, r, rest)
			return
		}
		rest, ok := spConfigPath(p)
		if !ok {
			t.errorBody(w, http.StatusNotFound, "404 Not found", "The server did not find a current representation for the target resource.")
			return
		}
		t.serveAPI(w, r, rest)
	}
}

// spConfigPath maps /{ver}/sp-config/X and /sp-config/v1/X to "X".
func spConfigPath(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, "/sp-config/v1/"); ok {
		return rest, true
	}
	for _, v := range versionPrefixes {
		if rest, ok := strings.CutPrefix(p, v+"/sp-config/"); ok {
			return rest, true
		}
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeRaw(w, status, mustJSON(v))
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func trackingID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorBody writes an ErrorResponseDto.
func (t *Tenant) errorBody(w http.ResponseWriter, status int, detailCode, text string) {
	type msg struct {
		Locale       string `json:"locale"`
		LocaleOrigin string `json:"localeOrigin"`
		Text         string `json:"text"`
	}
	writeJSON(w, status, struct {
		DetailCode string `json:"detailCode"`
		TrackingID string `json:"trackingId"`
		Messages   []msg  `json:"messages"`
		Causes     []msg  `json:"causes"`
	}{detailCode, trackingID(), []msg{{"en-US", "DEFAULT", text}}, []msg{}})
}

func (t *Tenant) badRequest(w http.ResponseWriter, text string) {
	t.errorBody(w, http.StatusBadRequest, "400.1 Bad Request Content", text)
}

func (t *Tenant) notFound(w http.ResponseWriter, text string) {
	t.errorBody(w, http.StatusNotFound, "404 Not found", text)
}

// apiRoute is one SP-Config endpoint: its method and the scopes that may call it.
type apiRoute struct {
	method string
	scopes []string
}

// routeOf returns the endpoint at path parts (after /sp-config/), or ok false
// for a path the API does not have.
func routeOf(parts []string) (apiRoute, bool) {
	switch {
	case len(parts) == 1 && parts[0] == "config-objects":
		return apiRoute{http.MethodGet, scopesRead}, true
	case len(parts) == 1 && parts[0] == "export":
		return apiRoute{http.MethodPost, scopesRead}, true
	case len(parts) == 1 && parts[0] == "import":
		return apiRoute{http.MethodPost, scopesManage}, true
	case (len(parts) == 2 || len(parts) == 3 && parts[2] == "download") && parts[0] == "export":
		return apiRoute{http.MethodGet, scopesRead}, true
	case (len(parts) == 2 || len(parts) == 3 && parts[2] == "download") && parts[0] == "import":
		return apiRoute{http.MethodGet, scopesManage}, true
	}
	return apiRoute{}, false
}

// faultTexts are the documented bodies (the spec's response examples) of
// injected statuses; other statuses get their HTTP status text.
var faultTexts = map[int][2]string{
	http.StatusBadRequest:          {"400.1 Bad Request Content", "The request could not be processed."},
	http.StatusForbidden:           {"403 Forbidden", "The server understood the request but refuses to authorize it."},
	http.StatusNotFound:            {"404 Not found", "The server did not find a current representation for the target resource."},
	http.StatusInternalServerError: {"500.0 Internal Fault", "An internal fault occurred."},
}

// injectFault writes the response of an injected status.
func (t *Tenant) injectFault(w http.ResponseWriter, code int) {
	if code == http.StatusTooManyRequests {
		tooMany(w, time.Second)
		return
	}
	if ft, ok := faultTexts[code]; ok {
		t.errorBody(w, code, ft[0], ft[1])
		return
	}
	t.errorBody(w, code, fmt.Sprintf("%d %s", code, http.StatusText(code)), http.StatusText(code)+".")
}

// methodNotAllowed answers a wrong method on a known path.
func (t *Tenant) methodNotAllowed(w http.ResponseWriter, allow ...string) {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	t.errorBody(w, http.StatusMethodNotAllowed, "405 Method Not Allowed",
		fmt.Sprintf("Request method is not supported for this resource: use %s.", strings.Join(allow, " or ")))
}

// serveAPI handles the SP-Config endpoints; rest is the path after
// /sp-config/. It authenticates, rate-limits, injects faults, routes (404,
// 405) and checks the token's scopes (403), in that order.
func (t *Tenant) serveAPI(w http.ResponseWriter, r *http.Request, rest string) {
	claims, ok := t.admit(w, r)
	if !ok {
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	rt, known := routeOf(parts)
	switch {
	case !known:
		t.notFound(w, "The server did not find a current representation for the target resource.")
		return
	case r.Method != rt.method:
		t.methodNotAllowed(w, rt.method)
		return
	case !claims.allows(rt.scopes):
		t.errorBody(w, http.StatusForbidden, "403 Forbidden", "The server understood the request but refuses to authorize it.")
		return
	}
	switch {
	case parts[0] == "config-objects":
		t.serveConfigObjects(w)
	case len(parts) == 1 && parts[0] == "export":
		t.serveStartExport(w, r)
	case len(parts) == 1:
		t.serveStartImport(w, r)
	case len(parts) == 2:
		t.serveStatus(w, strings.ToUpper(parts[0]), parts[1])
	default:
		t.serveDownload(w, r, strings.ToUpper(parts[0]), parts[1])
	}
}

// admit is the first half of every API request: it moves jobs on,
// authenticates (401), rate-limits (429) and injects status faults, in that
// order, and returns the token's claims, or false when it answered.
func (t *Tenant) admit(w http.ResponseWriter, r *http.Request) (tokenClaims, bool) {
	t.mu.Lock()
	t.advanceLocked()
	now := t.opts.Now()
	claims, ok := t.authenticateLocked(w, r, now)
	if !ok {
		t.mu.Unlock()
		return claims, false
	}
	// Rate limit per client id.
	if t.opts.RateLimit > 0 {
		win := t.rate[claims.ClientID]
		if win == nil || !now.Before(win.start.Add(t.opts.RateWindow)) {
			win = &window{start: now}
			t.rate[claims.ClientID] = win
		}
		if win.count >= t.opts.RateLimit {
			wait := win.start.Add(t.opts.RateWindow).Sub(now)
			t.mu.Unlock()
			tooMany(w, wait)
			return claims, false
		}
		win.count++
	}
	// Injected status faults.
	for _, code := range t.faults.codes() {
		if t.rollLocked(t.faults.status[code]) {
			t.mu.Unlock()
			t.injectFault(w, code)
			return claims, false
		}
	}
	t.mu.Unlock()
	return claims, true
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": " Rate Limit Exceeded "})
}

func (t *Tenant) serveStartExport(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		t.badRequest(w, "Content type '"+r.Header.Get("Content-Type")+"' not supported: send the export payload as application/json.")
		return
	}
	var p spconfig.ExportPayload
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		t.badRequest(w, "The request body could not be read: "+err.Error())
		return
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.badRequest(w, "The request body is not a valid export payload: "+err.Error())
		return
	}
	t.mu.Lock()
	j := t.startExportLocked(p)
	status := jobStatus(j)
	t.saveOrLog()
	t.mu.Unlock()
	writeJSON(w, http.StatusAccepted, status)
}

func (t *Tenant) saveOrLog() {
	if err := t.saveLocked(); err != nil {
		t.log.Error("save state", "err", err)
	}
}

// parseMultipart parses a multipart/form-data request body, or answers 400
// saying what to send (parts) and returns false. The caller removes the
// form's files (r.MultipartForm.RemoveAll).
func (t *Tenant) parseMultipart(w http.ResponseWriter, r *http.Request, parts string) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		t.badRequest(w, "Content type '"+r.Header.Get("Content-Type")+"' not supported: send multipart/form-data with "+parts+".")
		return false
	}
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		t.badRequest(w, "The multipart request could not be parsed: "+err.Error())
		return false
	}
	return true
}

// requiredPart returns a part of a parsed multipart request, or answers 400
// and returns false when it is missing or cannot be read.
func (t *Tenant) requiredPart(w http.ResponseWriter, r *http.Request, name string) ([]byte, bool) {
	data, ok, err := formPart(r, name)
	switch {
	case err != nil:
		t.badRequest(w, "Required request part '"+name+"' could not be read: "+err.Error())
		return nil, false
	case !ok:
		t.badRequest(w, "Required request part '"+name+"' is not present.")
		return nil, false
	}
	return data, true
}

// formPart returns a multipart part's bytes, whether sent as a file or a field.
func formPart(r *http.Request, name string) ([]byte, bool, error) {
	if fhs := r.MultipartForm.File[name]; len(fhs) > 0 {
		f, err := fhs[0].Open()
		if err != nil {
			return nil, true, err
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		return b, true, err
	}
	if vs := r.MultipartForm.Value[name]; len(vs) > 0 {
		return []byte(vs[0]), true, nil
	}
	return nil, false, nil
}

func (t *Tenant) serveStartImport(w http.ResponseWriter, r *http.Request) {
	preview := false
	if v := r.URL.Query().Get("preview"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			t.badRequest(w, fmt.Sprintf("Query parameter 'preview' must be true or false, got %q.", v))
			return
		}
		preview = b
	}
	if !t.parseMultipart(w, r, "a file part named 'data'") {
		return
	}
	defer r.MultipartForm.RemoveAll()
	data, ok := t.requiredPart(w, r, "data")
	if !ok {
		return
	}
	if !json.Valid(data) {
		t.badRequest(w, "Required request part 'data' is not valid JSON.")
		return
	}
	if _, err := spconfig.ReadExport(strings.NewReader(string(data))); err != nil {
		t.badRequest(w, "Required request part 'data' is not an SP-Config export document: "+err.Error())
		return
	}
	var (
		opts     spconfig.ImportOptions
		defaults []defaultRef
	)
	if ob, ok, err := formPart(r, "options"); err != nil {
		t.badRequest(w, "Request part 'options' could not be read: "+err.Error())
		return
	} else if ok && len(strings.TrimSpace(string(ob))) > 0 {
		if opts, defaults, err = parseImportOptions(ob); err != nil {
			t.badRequest(w, "Request part 'options' "+err.Error())
			return
		}
	}
	t.mu.Lock()
	j := t.startImportLocked(data, opts, defaults, preview)
	status := jobStatus(j)
	t.saveOrLog()
	t.mu.Unlock()
	writeJSON(w, http.StatusAccepted, status)
}

func fmtTime(tm time.Time) string { return tm.UTC().Format("2006-01-02T15:04:05.000Z") }

// jobStatus renders SpConfigExportJobStatus or SpConfigImportJobStatus.
func jobStatus(j *job) map[string]any {
	m := map[string]any{
		"jobId": j.ID, "status": j.Status, "type": j.Type,
		"expiration": fmtTime(j.Created.Add(jobExpiry)), "created": fmtTime(j.Created), "modified": fmtTime(j.Modified),
	}
	if j.Type == spconfig.JobExport {
		m["description"] = j.Description
	}
	if j.Message != "" {
		m["message"] = j.Message
	}
	if j.done() {
		m["completed"] = fmtTime(j.Completed)
	}
	return m
}

func (t *Tenant) findJobLocked(typ, id string) *job {
	for _, j := range t.jobs {
		if j.ID == id && j.Type == typ {
			return j
		}
	}
	return nil
}

func (t *Tenant) serveStatus(w http.ResponseWriter, typ, id string) {
	t.mu.Lock()
	j := t.findJobLocked(typ, id)
	var (
		status  map[string]any
		expired bool
	)
	if j != nil {
		status = jobStatus(j)
		expired = !t.opts.Now().Before(j.Created.Add(jobExpiry))
	}
	t.mu.Unlock()
	switch {
	case j == nil:
		t.notFound(w, fmt.Sprintf("%s job %s was not found.", strings.ToLower(typ), id))
		return
	case expired:
		t.notFound(w, fmt.Sprintf("%s job %s has expired (jobs and their results are kept %s).", strings.ToLower(typ), id, jobExpiry))
		return
	}
	writeJSON(w, http.StatusOK, status)
}

func (t *Tenant) serveDownload(w http.ResponseWriter, r *http.Request, typ, id string) {
	t.mu.Lock()
	j := t.findJobLocked(typ, id)
	var (
		result   []byte
		status   string
		expired  bool
		slow     = t.faults.slowDownload
		truncate bool
	)
	if j != nil {
		result, status = j.Result, j.Status
		expired = !t.opts.Now().Before(j.Created.Add(jobExpiry))
		truncate = len(result) > 0 && t.rollLocked(t.faults.truncate)
	}
	t.mu.Unlock()
	switch {
	case j == nil:
		t.notFound(w, fmt.Sprintf("%s job %s was not found.", strings.ToLower(typ), id))
		return
	case expired:
		t.notFound(w, fmt.Sprintf("The results of %s job %s have expired.", strings.ToLower(typ), id))
		return
	case len(result) == 0:
		t.badRequest(w, fmt.Sprintf("%s job %s has no results to download: its status is %s.", strings.ToLower(typ), id, status))
		return
	}
	if slow > 0 {
		timer := time.NewTimer(slow)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	if truncate {
		// Announce the whole body, send half: the client sees an unexpected EOF.
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(result)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(result[:len(result)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	writeRaw(w, http.StatusOK, result)
}

// serveConfigObjects lists per-type capabilities consistent with what the fake
// does: the 25 exportable types (signatureRequired for RULE and
// CONNECTOR_RULE, onePerTenant for singletons, referenceExtractors as found in
// the tenant's objects) and the reference-only types import resolves by name.
func (t *Tenant) serveConfigObjects(w http.ResponseWriter) {
	t.mu.Lock()
	paths := map[string]map[string]bool{}
	for _, o := range t.objects {
		root, err := jsonspan.Parse(o.Raw)
		if err != nil {
			continue
		}
		for _, rf := range findRefs(o.Raw, root.Get("object"), isRefType) {
			if paths[o.Type] == nil {
				paths[o.Type] = map[string]bool{}
			}
			paths[o.Type][rf.Path] = true
		}
	}
	t.mu.Unlock()
	var out []spconfig.ConfigObject
	for _, typ := range spconfig.ExportableTypes() {
		ex := []string{}
		for p := range paths[typ] {
			ex = append(ex, p)
		}
		sortStrings(ex)
		out = append(out, spconfig.ConfigObject{
			ObjectType: typ, ReferenceExtractors: ex, SignatureRequired: spconfig.SignedType(typ),
			OnePerTenant: spconfig.Singleton(typ), Exportable: true,
		})
	}
	for _, typ := range []string{"ACCOUNT_CORRELATION_CONFIG", "CLUSTER", "CONNECTOR_SCHEMA", "ENTITLEMENT", "IDENTITY"} {
		out = append(out, spconfig.ConfigObject{ObjectType: typ, ReferenceExtractors: []string{}})
	}
	writeJSON(w, http.StatusOK, out)
}

// serveAdmin is the admin API (DESIGN section 8); it needs no token.
func (t *Tenant) serveAdmin(w http.ResponseWriter, r *http.Request, what string) {
	if t.serveHubAdmin(w, r, what) {
		return
	}
	q := r.URL.Query()
	switch {
	case what == "objects" && r.Method == http.MethodGet:
		es := t.Objects(q.Get("type"))
		raws := make([]json.RawMessage, 0, len(es))
		for _, e := range es {
			raws = append(raws, e.Raw)
		}
		writeJSON(w, http.StatusOK, raws)
	case what == "objects" && r.Method == http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			t.badRequest(w, "reading body: "+err.Error())
			return
		}
		e, err := spconfig.NewEntry(body)
		if err != nil {
			t.badRequest(w, "PUT /_fake/objects wants one export entry {version, self, object}: "+err.Error())
			return
		}
		if err := t.PutObject(e); err != nil {
			t.badRequest(w, err.Error())
			return
		}
		t.mu.Lock()
		o := t.objects[e.Key()]
		var raw []byte
		if o != nil {
			raw = o.signedRaw()
		}
		t.mu.Unlock()
		writeRaw(w, http.StatusOK, raw)
	case what == "objects" && r.Method == http.MethodDelete:
		typ, name := q.Get("type"), q.Get("name")
		if typ == "" || name == "" {
			t.badRequest(w, "DELETE /_fake/objects needs ?type=T&name=N")
			return
		}
		if err := t.DeleteObject(typ, name); err != nil {
			if errors.Is(err, errNotFound) {
				t.notFound(w, err.Error())
			} else {
				t.badRequest(w, err.Error())
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case what == "identities" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, nonNilIdentities(t.Identities()))
	case what == "identities" && r.Method == http.MethodPost:
		var in struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || strings.TrimSpace(in.Name) == "" {
			t.badRequest(w, `POST /_fake/identities wants {"name": "..."}`)
			return
		}
		writeJSON(w, http.StatusCreated, t.AddIdentity(in.Name))
	case what == "jobs" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, t.Jobs())
	case what == "faults" && r.Method == http.MethodPut:
		var in struct {
			Spec string `json:"spec"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			t.badRequest(w, `PUT /_fake/faults wants {"spec": "429=0.1,..."}`)
			return
		}
		if err := t.SetFaults(in.Spec); err != nil {
			t.badRequest(w, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"spec": in.Spec})
	case what == "faults" && r.Method == http.MethodGet:
		t.mu.Lock()
		spec := t.faults.spec
		t.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"spec": spec})
	case strings.HasPrefix(what, "jobs/") && strings.HasSuffix(what, "/cancel") && r.Method == http.MethodPost:
		id := strings.TrimSuffix(strings.TrimPrefix(what, "jobs/"), "/cancel")
		j, err := t.CancelJob(id)
		switch {
		case errors.Is(err, errNotFound):
			t.notFound(w, err.Error())
		case err != nil:
			t.badRequest(w, err.Error())
		default:
			writeJSON(w, http.StatusOK, j)
		}
	default:
		if allow, ok := adminMethods[what]; ok {
			t.methodNotAllowed(w, allow...)
			return
		}
		if strings.HasPrefix(what, "jobs/") && strings.HasSuffix(what, "/cancel") {
			t.methodNotAllowed(w, http.MethodPost)
			return
		}
		t.notFound(w, fmt.Sprintf("no admin endpoint %s /_fake/%s", r.Method, what))
	}
}

// adminMethods are the methods of each admin API path.
var adminMethods = map[string][]string{
	"objects":    {http.MethodGet, http.MethodPut, http.MethodDelete},
	"identities": {http.MethodGet, http.MethodPost},
	"jobs":       {http.MethodGet},
	"faults":     {http.MethodGet, http.MethodPut},
}

func nonNilIdentities(ids []Identity) []Identity {
	if ids == nil {
		return []Identity{}
	}
	return ids
}
