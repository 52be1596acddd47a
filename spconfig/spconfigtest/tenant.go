package spconfigtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"promoter/jsonspan"
	"promoter/spconfig"
)

// Options configure a fake tenant. The zero value is an empty tenant with the
// defaults documented on each field.
type Options struct {
	// Seed is an export document (SpConfigExportResults JSON) whose objects the
	// tenant starts with; nil is an empty tenant. The external names the seed's
	// objects refer to (clusters, entitlements, ...) become resolvable names.
	Seed []byte
	// Identities are the tenant's people; owners resolve against them.
	Identities []Identity
	// TenantName defaults to the seed's "tenant", else "fake".
	TenantName string
	// ClientID and ClientSecret are the only accepted client credentials;
	// defaults "promoter" and "promoter-secret".
	ClientID     string
	ClientSecret string
	// Scopes are the scopes of the client's tokens (the spec's userAuth:
	// sp:config:read may export, sp:config:manage may also import); default
	// ScopeAll, an ORG_ADMIN personal access token.
	Scopes []string
	// TokenTTL is the access token lifetime; default 12m.
	TokenTTL time.Duration
	// JobDelay is how long a job stays in progress. 0 (the default, so tests
	// never wait) completes it at the next request: the POST still answers
	// 202 NOT_STARTED. `promoter fake-tenant` defaults to DefaultJobDelay.
	JobDelay time.Duration
	// Faults is a fault spec, see SetFaults.
	Faults string
	// StatePath is an optional JSON state file: loaded at start when it
	// exists (it then wins over Seed and Identities), written atomically after
	// every change.
	StatePath string
	// RateLimit is the number of API requests per client id per RateWindow;
	// default 100 per 10s. Negative disables the limit.
	RateLimit  int
	RateWindow time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// IDSeed makes job and object ids reproducible: "" (the default) draws
	// them at random, as a real tenant does; any other value derives them
	// from the seed, the tenant name and a counter, so the same requests
	// give the same ids in every run (`promoter fake-tenant --seed-ids`).
	IDSeed string
	// DraftApproval is the approvalStatus of new Configuration Hub drafts:
	// "" or DEFAULT (no approval needed), or PENDING_APPROVAL, as a tenant
	// whose drafts need an approver does (the admin API approves them).
	DraftApproval string
	// Rand drives fault injection; default a generator seeded with RandSeed.
	Rand     *rand.Rand
	RandSeed uint64
	// Logger receives one line per request; default discards.
	Logger *slog.Logger
}

// DefaultJobDelay is the JobDelay of `promoter fake-tenant` when --job-delay is
// not given. Options.JobDelay itself has no default other than 0 so tests run
// without waiting.
const DefaultJobDelay = 2 * time.Second

// JobInfo is one job as the admin API lists it.
type JobInfo struct {
	JobID   string    `json:"jobId"`
	Type    string    `json:"type"`
	Preview bool      `json:"preview"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
}

// object is one stored object. Raw is the compact export entry without
// jwsHeader/jwsSignature; signatures are added on the way out.
type object struct {
	Key      spconfig.Key    `json:"-"`
	Type     string          `json:"-"`
	ID       string          `json:"-"`
	SelfName string          `json:"-"`
	Raw      json.RawMessage `json:"raw"`
}

// job is an export or import job.
type job struct {
	ID          string                  `json:"jobId"`
	Type        string                  `json:"type"`
	Preview     bool                    `json:"preview,omitempty"`
	Status      string                  `json:"status"`
	Description string                  `json:"description,omitempty"`
	Message     string                  `json:"message,omitempty"`
	Created     time.Time               `json:"created"`
	Modified    time.Time               `json:"modified"`
	Completed   time.Time               `json:"completed"`
	Due         time.Time               `json:"due"`
	Hang        bool                    `json:"hang,omitempty"`
	Fail        bool                    `json:"fail,omitempty"`
	Export      *spconfig.ExportPayload `json:"export,omitempty"`
	Data        json.RawMessage         `json:"data,omitempty"` // import document, dropped once run
	Options     *spconfig.ImportOptions `json:"options,omitempty"`
	Defaults    []defaultRef            `json:"defaultReferenceObjects,omitempty"` // object-form defaultReferences
	Result      json.RawMessage         `json:"result,omitempty"`
}

func (j *job) done() bool {
	return j.Status == spconfig.StatusComplete || j.Status == spconfig.StatusFailed || j.Status == spconfig.StatusCancelled
}

type window struct {
	start time.Time
	count int
}

type extKey struct{ Type, Name string }

// Tenant is a fake ISC tenant; it is an http.Handler serving the SP-Config
// API, /oauth/token, GET / and the admin API under /_fake/.
type Tenant struct {
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	name       string
	objects    map[spconfig.Key]*object
	identities []Identity
	external   map[extKey]string
	jobs       []*job
	hub        hubState
	counter    uint64
	sourceNum  int
	rate       map[string]*window
	faults     faults
	rnd        *rand.Rand
}

// New builds a tenant from opts: it loads the state file when there is one,
// else the seed and identities.
func New(opts Options) (*Tenant, error) {
	if opts.ClientID == "" {
		opts.ClientID = "promoter"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "promoter-secret"
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{ScopeAll}
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 12 * time.Minute
	}
	if opts.JobDelay < 0 {
		opts.JobDelay = 0
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 100
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Tenant{
		opts:     opts,
		log:      opts.Logger,
		objects:  map[spconfig.Key]*object{},
		external: map[extKey]string{},
		rate:     map[string]*window{},
		rnd:      opts.Rand,
	}
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if t.rnd == nil {
		t.rnd = rand.New(rand.NewPCG(opts.RandSeed, opts.RandSeed^0x9e3779b97f4a7c15))
	}
	if err := t.SetFaults(opts.Faults); err != nil {
		return nil, err
	}
	loaded, err := t.loadState()
	if err != nil {
		return nil, err
	}
	if !loaded {
		if err := t.seed(opts.Seed); err != nil {
			return nil, err
		}
		t.identities = append(t.identities, opts.Identities...)
		if opts.TenantName != "" {
			t.name = opts.TenantName
		}
		if t.name == "" {
			t.name = "fake"
		}
		t.mu.Lock()
		err := t.saveLocked()
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Name is the tenant's name (the "tenant" of its exports).
func (t *Tenant) Name() string { return t.name }

func (t *Tenant) seed(doc []byte) error {
	if len(doc) == 0 {
		return nil
	}
	d, err := spconfig.ReadExport(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("fake tenant seed: %w", err)
	}
	t.name = d.Tenant
	for i, e := range d.Objects {
		o, err := newObject(e.Raw)
		if err != nil {
			return fmt.Errorf("fake tenant seed: objects[%d] (%s): %w", i, e.Key(), err)
		}
		if _, dup := t.objects[o.Key]; dup {
			return fmt.Errorf("fake tenant seed: objects[%d]: %s appears twice", i, o.Key)
		}
		t.objects[o.Key] = o
		t.learnExternal(o)
	}
	t.sourceNum = 1000
	for _, o := range t.objects {
		if n := sourceNumber(o.SelfName); n >= t.sourceNum {
			t.sourceNum = n + 1
		}
	}
	return nil
}

var sourceSuffix = regexp.MustCompile(` \[source-(\d+)\]$`)

func sourceNumber(selfName string) int {
	m := sourceSuffix.FindStringSubmatch(selfName)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// newObject parses an entry into a stored object without jws fields.
func newObject(raw []byte) (*object, error) {
	e, err := spconfig.NewEntry(raw)
	if err != nil {
		return nil, err
	}
	root, err := jsonspan.Parse(e.Raw)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"version":`)
	if v := root.Get("version"); v != nil {
		b.Write(e.Raw[v.Start:v.End])
	} else {
		b.WriteString("1")
	}
	s := root.Get("self")
	b.WriteString(`,"self":`)
	b.Write(e.Raw[s.Start:s.End])
	ob := root.Get("object")
	b.WriteString(`,"object":`)
	b.Write(e.Raw[ob.Start:ob.End])
	b.WriteString("}")
	e2, err := spconfig.NewEntry(b.Bytes())
	if err != nil {
		return nil, err
	}
	return &object{Key: e2.Key(), Type: e2.Type(), ID: e2.Self.ID, SelfName: e2.Self.Name, Raw: e2.Raw}, nil
}

// isRefType reports whether a {type,id,name} object of type t is a reference
// that import resolves.
func isRefType(t string) bool {
	return t == "IDENTITY" || spconfig.Exportable(t) || externalRefTypes[t]
}

// externalRefTypes are referenced object types that SP-Config does not export;
// import resolves them by name against what exists in the tenant.
var externalRefTypes = map[string]bool{
	"CLUSTER": true, "ENTITLEMENT": true, "CONNECTOR_SCHEMA": true, "ACCOUNT_CORRELATION_CONFIG": true,
	"IDENTITY_ATTRIBUTE": true, "APPLICATION": true, "ACCOUNT": true, "MANAGED_CLUSTER": true,
}

// ownedRefTypes are parts of a source (its schemas and correlation config):
// an import creates or keeps them with the source, so they never fail.
var ownedRefTypes = map[string]bool{"CONNECTOR_SCHEMA": true, "ACCOUNT_CORRELATION_CONFIG": true}

// learnExternal records the names of non-exported objects o refers to, so
// import can resolve them by name in this tenant.
func (t *Tenant) learnExternal(o *object) {
	root, err := jsonspan.Parse(o.Raw)
	if err != nil {
		return
	}
	ob := root.Get("object")
	for _, r := range findRefs(o.Raw, ob, isRefType) {
		if externalRefTypes[r.Type] {
			if _, ok := t.external[extKey{r.Type, r.Name}]; !ok {
				t.external[extKey{r.Type, r.Name}] = r.ID
			}
		}
	}
}

// entry returns the object as an export entry, signed when its type is.
func (o *object) entry() spconfig.Entry {
	raw := o.signedRaw()
	e, err := spconfig.NewEntry(raw)
	if err != nil {
		panic(fmt.Sprintf("spconfigtest: stored object %s is not an entry: %v", o.Key, err)) // invariant
	}
	return e
}

func (o *object) signedRaw() []byte {
	if !spconfig.SignedType(o.Type) {
		return o.Raw
	}
	root, err := jsonspan.Parse(o.Raw)
	if err != nil {
		return o.Raw
	}
	ob := root.Get("object")
	h, s := SignObject(o.Raw[ob.Start:ob.End])
	var b bytes.Buffer
	b.Write(o.Raw[:len(o.Raw)-1])
	b.WriteString(`,"jwsHeader":`)
	b.Write(jsonString(h))
	b.WriteString(`,"jwsSignature":`)
	b.Write(jsonString(s))
	b.WriteString("}")
	return b.Bytes()
}

// VerifyEntry checks the jwsHeader/jwsSignature of a signed entry against the
// fake's signing key and the entry's exact object bytes.
func VerifyEntry(e spconfig.Entry) error {
	var head struct {
		H string `json:"jwsHeader"`
		S string `json:"jwsSignature"`
	}
	if err := json.Unmarshal(e.Raw, &head); err != nil {
		return fmt.Errorf("verify %s: %w", e.Key(), err)
	}
	if err := VerifyObject(e.Object(), head.H, head.S); err != nil {
		return fmt.Errorf("verify %s: %w", e.Key(), err)
	}
	return nil
}

// Objects returns the tenant's objects of type typ ("" = all) as export
// entries (RULE and CONNECTOR_RULE signed), sorted by type then name.
func (t *Tenant) Objects(typ string) []spconfig.Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.entriesLocked(func(o *object) bool { return typ == "" || o.Type == typ })
}

func (t *Tenant) entriesLocked(keep func(*object) bool) []spconfig.Entry {
	var out []spconfig.Entry
	for _, o := range t.objects {
		if keep(o) {
			out = append(out, o.entry())
		}
	}
	spconfig.SortEntries(out)
	return out
}

// PutObject creates or replaces the object of e's type and name, as an edit in
// the product's UI would (drift): an existing object keeps its tenant id (and a
// source its self.name); a new one gets a new id. Signatures on e are ignored.
func (t *Tenant) PutObject(e spconfig.Entry) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !spconfig.Exportable(e.Type()) {
		return fmt.Errorf("put object %s: unknown type %q (want one of the %d exportable types)", e.Key(), e.Type(), len(spconfig.ExportableTypes()))
	}
	o, err := newObject(e.Raw)
	if err != nil {
		return fmt.Errorf("put object %s: %w", e.Key(), err)
	}
	id, selfName := t.targetIdentityLocked(o)
	o, err = rewriteObject(o, id, selfName, nil)
	if err != nil {
		return fmt.Errorf("put object %s: %w", e.Key(), err)
	}
	t.objects[o.Key] = o
	t.learnExternal(o)
	return t.saveLocked()
}

// targetIdentityLocked returns the id and self.name o gets in this tenant:
// those of the existing object with its key, else fresh ones.
func (t *Tenant) targetIdentityLocked(o *object) (id, selfName string) {
	if cur, ok := t.objects[o.Key]; ok {
		return cur.ID, cur.SelfName
	}
	id = t.newObjectIDLocked(o.Type)
	selfName = o.SelfName
	if o.Type == "SOURCE" {
		selfName = fmt.Sprintf("%s [source-%d]", o.Key.Name, t.sourceNum)
		t.sourceNum++
	}
	return id, selfName
}

// rewriteObject returns o with self.id, self.name, the object's own top-level
// id and the given reference edits applied, every other byte unchanged.
func rewriteObject(o *object, id, selfName string, refEdits []jsonspan.Edit) (*object, error) {
	root, err := jsonspan.Parse(o.Raw)
	if err != nil {
		return nil, err
	}
	self := root.Get("self")
	ob := root.Get("object")
	edits := slices.Clone(refEdits)
	if n := self.Get("id"); n != nil {
		edits = append(edits, jsonspan.Edit{Start: n.Start, End: n.End, Repl: jsonString(id)})
	} else {
		edits = append(edits, insertID(self, id))
	}
	if n := self.Get("name"); n != nil && selfName != "" {
		edits = append(edits, jsonspan.Edit{Start: n.Start, End: n.End, Repl: jsonString(selfName)})
	}
	if n := ob.Get("id"); n != nil && n.Kind == jsonspan.String {
		edits = append(edits, jsonspan.Edit{Start: n.Start, End: n.End, Repl: jsonString(id)})
	} else if n == nil && ob.Kind == jsonspan.Object && !noObjectIDTypes[o.Type] {
		edits = append(edits, insertID(ob, id))
	}
	return newObject(jsonspan.Apply(o.Raw, edits))
}

// noObjectIDTypes are the types whose objects have no id of their own (the
// tenant's configuration singletons); only their self carries one.
var noObjectIDTypes = map[string]bool{
	"ACCESS_REQUEST_CONFIG": true, "ATTR_SYNC_SOURCE_CONFIG": true, "AUTH_ORG": true,
	"IDENTITY_OBJECT_CONFIG": true, "PUBLIC_IDENTITIES_CONFIG": true,
}

// insertID is the edit that adds "id" as the first key of object node n.
func insertID(n *jsonspan.Node, id string) jsonspan.Edit {
	b := append([]byte(`"id":`), jsonString(id)...)
	if len(n.Keys) > 0 {
		b = append(b, ',')
	}
	return jsonspan.Edit{Start: n.Start + 1, End: n.Start + 1, Repl: b}
}

// DeleteObject removes the object of type typ whose name (object name; for
// LIFECYCLE_STATE optionally "profile / state") is name.
func (t *Tenant) DeleteObject(typ, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var match []spconfig.Key
	for k := range t.objects {
		if k.Type == typ && (k.Name == name || (k.Scope != "" && k.Scope+" / "+k.Name == name)) {
			match = append(match, k)
		}
	}
	switch len(match) {
	case 0:
		return fmt.Errorf("delete object %s %q: %w", typ, name, errNotFound)
	case 1:
		delete(t.objects, match[0])
		return t.saveLocked()
	default:
		return fmt.Errorf("delete object %s %q: %d objects have this name; name one as \"scope / name\"", typ, name, len(match))
	}
}

var errNotFound = errors.New("not found")

// AddIdentity adds a person with a new id and returns it.
func (t *Tenant) AddIdentity(name string) Identity {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := Identity{ID: t.newHexIDLocked(), Name: name}
	t.identities = append(t.identities, id)
	if err := t.saveLocked(); err != nil {
		t.log.Error("save state", "err", err)
	}
	return id
}

// Identities lists the tenant's people in the order they were added.
func (t *Tenant) Identities() []Identity {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.identities)
}

// Jobs lists every job in creation order, after moving due jobs on.
func (t *Tenant) Jobs() []JobInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked()
	out := make([]JobInfo, 0, len(t.jobs))
	for _, j := range t.jobs {
		out = append(out, JobInfo{JobID: j.ID, Type: j.Type, Preview: j.Preview, Status: j.Status, Created: j.Created})
	}
	return out
}

// state is the JSON state file.
type state struct {
	Tenant     string            `json:"tenant"`
	Counter    uint64            `json:"counter"`
	SourceNum  int               `json:"sourceNumber"`
	Objects    []json.RawMessage `json:"objects"`
	Identities []Identity        `json:"identities"`
	External   []externalName    `json:"external"`
	Jobs       []*job            `json:"jobs"`
	Hub        *hubState         `json:"configurationHub,omitempty"`
}

type externalName struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (t *Tenant) loadState() (bool, error) {
	if t.opts.StatePath == "" {
		return false, nil
	}
	b, err := os.ReadFile(t.opts.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("fake tenant state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return false, fmt.Errorf("fake tenant state %s: %w (delete the file to start from the seed)", t.opts.StatePath, err)
	}
	t.name, t.counter, t.sourceNum = s.Tenant, s.Counter, s.SourceNum
	for i, raw := range s.Objects {
		o, err := newObject(raw)
		if err != nil {
			return false, fmt.Errorf("fake tenant state %s: objects[%d]: %w", t.opts.StatePath, i, err)
		}
		t.objects[o.Key] = o
	}
	t.identities = s.Identities
	for _, x := range s.External {
		t.external[extKey{x.Type, x.Name}] = x.ID
	}
	t.jobs = s.Jobs
	if s.Hub != nil {
		t.hub = *s.Hub
	}
	return true, nil
}

// saveLocked writes the state file atomically (temp file + rename).
func (t *Tenant) saveLocked() error {
	if t.opts.StatePath == "" {
		return nil
	}
	s := state{Tenant: t.name, Counter: t.counter, SourceNum: t.sourceNum, Identities: t.identities, Jobs: t.jobs, Hub: &t.hub}
	for _, e := range t.entriesLocked(func(*object) bool { return true }) {
		o, _ := newObject(e.Raw)
		s.Objects = append(s.Objects, o.Raw)
	}
	for k, id := range t.external {
		s.External = append(s.External, externalName{k.Type, id, k.Name})
	}
	slices.SortFunc(s.External, func(a, b externalName) int {
		if a.Type != b.Type {
			if a.Type < b.Type {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep object bytes exactly as they are
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("fake tenant state: %w", err)
	}
	b := buf.Bytes()
	dir := filepath.Dir(t.opts.StatePath)
	f, err := os.CreateTemp(dir, ".fake-tenant-state-*")
	if err != nil {
		return fmt.Errorf("fake tenant state: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("fake tenant state %s: %w", f.Name(), errors.Join(werr, cerr))
	}
	if err := os.Rename(f.Name(), t.opts.StatePath); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("fake tenant state: %w", err)
	}
	return nil
}
