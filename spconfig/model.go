package spconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Job statuses as the API reports them.
const (
	StatusNotStarted = "NOT_STARTED"
	StatusInProgress = "IN_PROGRESS"
	StatusComplete   = "COMPLETE"
	StatusCancelled  = "CANCELLED"
	StatusFailed     = "FAILED"
)

// Job types as the API reports them.
const (
	JobExport = "EXPORT"
	JobImport = "IMPORT"
)

// exportableTypes are the 25 object types SP-Config exports, in the API's order.
var exportableTypes = []string{
	"ACCESS_PROFILE", "ACCESS_REQUEST_CONFIG", "ATTR_SYNC_SOURCE_CONFIG", "AUTH_ORG",
	"CAMPAIGN_FILTER", "CONNECTOR_RULE", "FORM_DEFINITION", "GOVERNANCE_GROUP",
	"IDENTITY_OBJECT_CONFIG", "IDENTITY_PROFILE", "LIFECYCLE_STATE", "NOTIFICATION_TEMPLATE",
	"PASSWORD_POLICY", "PASSWORD_SYNC_GROUP", "PUBLIC_IDENTITIES_CONFIG", "ROLE", "RULE",
	"SEGMENT", "SERVICE_DESK_INTEGRATION", "SOD_POLICY", "SOURCE", "TAG", "TRANSFORM",
	"TRIGGER_SUBSCRIPTION", "WORKFLOW",
}

// ExportableTypes returns the 25 object types SP-Config exports, in the
// API's order; the slice is the caller's.
func ExportableTypes() []string { return slices.Clone(exportableTypes) }

// importableTypes are the 7 object types SP-Config can import.
var importableTypes = []string{
	"CONNECTOR_RULE", "IDENTITY_OBJECT_CONFIG", "IDENTITY_PROFILE", "RULE", "SOURCE",
	"TRANSFORM", "TRIGGER_SUBSCRIPTION",
}

// ImportableTypes returns the 7 object types SP-Config can import; the slice
// is the caller's.
func ImportableTypes() []string { return slices.Clone(importableTypes) }

// hubTypes are the 24 object types Configuration Hub backs up, uploads and
// deploys (the BackupOptions enum of the spec): every exportable type but
// CONNECTOR_RULE.
var hubTypes = []string{
	"ACCESS_PROFILE", "ACCESS_REQUEST_CONFIG", "ATTR_SYNC_SOURCE_CONFIG", "AUTH_ORG",
	"CAMPAIGN_FILTER", "FORM_DEFINITION", "GOVERNANCE_GROUP", "IDENTITY_OBJECT_CONFIG",
	"IDENTITY_PROFILE", "LIFECYCLE_STATE", "NOTIFICATION_TEMPLATE", "PASSWORD_POLICY",
	"PASSWORD_SYNC_GROUP", "PUBLIC_IDENTITIES_CONFIG", "ROLE", "RULE", "SEGMENT",
	"SERVICE_DESK_INTEGRATION", "SOD_POLICY", "SOURCE", "TAG", "TRANSFORM",
	"TRIGGER_SUBSCRIPTION", "WORKFLOW",
}

// HubTypes returns the 24 object types Configuration Hub backs up, uploads
// and deploys; the slice is the caller's.
func HubTypes() []string { return slices.Clone(hubTypes) }

// HubType reports whether Configuration Hub can upload and deploy objects of
// type t.
func HubType(t string) bool { return slices.Contains(hubTypes, t) }

// singletons are types with exactly one object per tenant and no object name;
// they match across tenants by type alone, under a fixed display name.
var singletons = map[string]string{
	"ACCESS_REQUEST_CONFIG":    "Access Request Configuration",
	"AUTH_ORG":                 "Authentication Configuration",
	"PUBLIC_IDENTITIES_CONFIG": "Public Identities Configuration",
	"IDENTITY_OBJECT_CONFIG":   "Identity Object Configuration",
}

// Exportable reports whether t is one of the 25 exportable type names.
func Exportable(t string) bool { return slices.Contains(exportableTypes, t) }

// Importable reports whether SP-Config can import objects of type t.
func Importable(t string) bool { return slices.Contains(importableTypes, t) }

// Singleton reports whether type t has one object per tenant, matched by type.
func Singleton(t string) bool { _, ok := singletons[t]; return ok }

// SignedType reports whether objects of type t carry a JWS signature that must
// reach the target unmodified.
func SignedType(t string) bool { return t == "RULE" || t == "CONNECTOR_RULE" }

// Self is the self block of an exported object: its type, tenant-local id and
// display name.
type Self struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Key identifies an object across tenants: ids differ per tenant, so objects
// match by type and name. Scope disambiguates names that repeat within a type
// (a LIFECYCLE_STATE's identity profile name).
type Key struct {
	Type  string
	Scope string
	Name  string
}

// String renders the key for people: "TYPE Name" or "TYPE Scope / Name".
func (k Key) String() string {
	if k.Scope != "" {
		return k.Type + " " + k.Scope + " / " + k.Name
	}
	return k.Type + " " + k.Name
}

// Less orders keys by type, scope, then name.
func (k Key) Less(o Key) bool {
	if k.Type != o.Type {
		return k.Type < o.Type
	}
	if k.Scope != o.Scope {
		return k.Scope < o.Scope
	}
	return k.Name < o.Name
}

// Entry is one object of an export document. Raw holds the whole entry
// ({version, self, object, jwsHeader?, jwsSignature?}) as compact JSON with the
// key order and number literals exactly as the tenant sent them; the client
// never re-encodes it.
//
// A thin entry (Thin) keeps what identifies the object and drops its bytes,
// so a run can hold large sets of objects and read back only the few it
// compares (issue 18).
type Entry struct {
	Raw  json.RawMessage
	Self Self
	// the object is Raw[objOff:objOff+objLen]
	objOff, objLen int32
	signed         bool
	// A thin entry (Thin) has no bytes; these stand for its id claims:
	// SelfInObject and Object equal to self.id (the usual case); an Object
	// that is another non-empty string is in more.
	thin, selfIn, objSelf bool
	// more is what few entries need, nil for most: a run keeps one entry
	// per blob it read, 96 bytes each (issue 18).
	more *entryMore
}

// entryMore is the rest of an entry that has any of it.
type entryMore struct {
	keyName string // the key's name where it is not self.name (a singleton's label, a SOURCE's object.name)
	scope   string // Key.Scope
	objID   string // thin: object.id where it is a string other than self.id
}

// newEntry is the entry of compact whose object is compact[off:off+n], with
// key k and signature flag signed.
func newEntry(compact []byte, self Self, off, n int, k Key, signed bool) Entry {
	e := Entry{Raw: compact, Self: self, objOff: int32(off), objLen: int32(n), signed: signed}
	if k.Name != self.Name || k.Scope != "" {
		e.more = &entryMore{scope: k.Scope}
		if k.Name != self.Name {
			e.more.keyName = k.Name
		}
	}
	return e
}

// IDClaims are the ids an object's bytes make known to an id index: its
// self.id, whether the object holds `"id":"<self.id>"` anywhere (the usual
// case: object.id equals self.id), and its top-level object.id when that is
// a string.
type IDClaims struct {
	Self         string
	SelfInObject bool
	Object       string
}

// IDClaims returns the entry's id claims (computed from its bytes, or kept
// by Thin).
func (e Entry) IDClaims() IDClaims {
	if e.thin {
		c := IDClaims{Self: e.Self.ID, SelfInObject: e.selfIn}
		switch {
		case e.objSelf:
			c.Object = e.Self.ID
		case e.more != nil:
			c.Object = e.more.objID
		}
		return c
	}
	c := IDClaims{Self: e.Self.ID}
	object := e.Object()
	if c.Self != "" && bytes.Contains(object, []byte(`"id":"`+c.Self+`"`)) {
		c.SelfInObject = true
		// the usual shape: object.id is the first member
		if p := `{"id":"` + c.Self + `"`; !strings.ContainsAny(c.Self, `\"`) && bytes.HasPrefix(object, []byte(p)) &&
			len(object) > len(p) && (object[len(p)] == ',' || object[len(p)] == '}') {
			c.Object = c.Self
			return c
		}
	}
	var o struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(object, &o) == nil {
		if s, ok := o.ID.(string); ok {
			c.Object = s
		}
	}
	return c
}

// Thin returns the entry without its bytes: self, key, signature flag and
// id claims stay; Raw and Object are nil. Whoever needs the bytes again
// reads them from where the entry came from.
func (e Entry) Thin() Entry {
	if e.thin {
		return e
	}
	c := e.IDClaims()
	e.thin, e.selfIn, e.objSelf, e.Raw, e.objOff, e.objLen = true, c.SelfInObject, c.Object == c.Self, nil, 0, 0
	if !e.objSelf && c.Object != "" {
		m := entryMore{objID: c.Object}
		if e.more != nil {
			m.keyName, m.scope = e.more.keyName, e.more.scope
		}
		e.more = &m
	}
	return e
}

// IsThin reports whether the entry was made by Thin (it has no bytes).
func (e Entry) IsThin() bool { return e.thin }

// NewEntry parses one export entry. It compacts the bytes (keeping key order
// and number literals) and checks that self.type and self.name are present
// and that no object of it repeats a key (*DuplicateKeyError).
func NewEntry(raw []byte) (Entry, error) {
	if e, ok := scanEntry(raw, false); ok {
		return e, nil
	}
	return newEntryReference(raw)
}

// newEntryReference is NewEntry through encoding/json: the reference the
// one-pass scanner (entryscan.go) falls back to and is fuzzed against.
func newEntryReference(raw []byte) (Entry, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return Entry{}, fmt.Errorf("entry is not valid JSON: %w", err)
	}
	if err := duplicateKey(buf.Bytes()); err != nil {
		if e, eerr := newCompactEntry(buf.Bytes()); eerr == nil {
			err.(*DuplicateKeyError).Self = e.Self
		}
		return Entry{}, err
	}
	return newCompactEntry(buf.Bytes())
}

func newCompactEntry(compact []byte) (Entry, error) {
	if len(compact) == 0 || compact[0] != '{' {
		return Entry{}, errors.New("entry is not a JSON object")
	}
	var head struct {
		Self         *Self           `json:"self"`
		Object       json.RawMessage `json:"object"`
		JWSHeader    *string         `json:"jwsHeader"`
		JWSSignature *string         `json:"jwsSignature"`
	}
	if err := json.Unmarshal(compact, &head); err != nil {
		return Entry{}, fmt.Errorf("entry does not have the export entry shape: %w", err)
	}
	switch {
	case head.Self == nil:
		return Entry{}, errors.New("entry has no self block")
	case head.Self.Type == "":
		return Entry{}, errors.New("entry has no self.type")
	case head.Self.Name == "" && !Singleton(head.Self.Type):
		return Entry{}, fmt.Errorf("%s entry %q has no self.name", head.Self.Type, head.Self.ID)
	case len(head.Object) == 0 || head.Object[0] != '{':
		return Entry{}, fmt.Errorf("%s %q has no object", head.Self.Type, head.Self.Name)
	}
	i := bytes.Index(compact, head.Object)
	if i < 0 {
		return Entry{}, fmt.Errorf("%s %q: object bytes not found in the entry", head.Self.Type, head.Self.Name)
	}
	return newEntry(compact, *head.Self, i, len(head.Object), computeKey(*head.Self, head.Object), head.JWSHeader != nil || head.JWSSignature != nil), nil
}

func computeKey(s Self, object []byte) Key {
	k := Key{Type: s.Type, Name: s.Name}
	if label, ok := singletons[s.Type]; ok {
		k.Name = label
		return k
	}
	switch s.Type {
	case "SOURCE":
		// self.name carries a per-tenant " [source-N]" suffix; object.name does not.
		var o struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(object, &o) == nil && o.Name != "" {
			k.Name = o.Name
		}
	case "LIFECYCLE_STATE":
		var o struct {
			Ref struct {
				Name string `json:"name"`
			} `json:"identityProfileRef"`
		}
		if json.Unmarshal(object, &o) == nil {
			k.Scope = o.Ref.Name
		}
	}
	return k
}

// Key is the object's cross-tenant identity.
func (e Entry) Key() Key {
	k := Key{Type: e.Self.Type, Name: e.Self.Name}
	if e.more != nil {
		if e.more.keyName != "" {
			k.Name = e.more.keyName
		}
		k.Scope = e.more.scope
	}
	return k
}

// Type is self.type.
func (e Entry) Type() string { return e.Self.Type }

// Object returns the raw bytes of the entry's object field.
func (e Entry) Object() json.RawMessage {
	if e.Raw == nil {
		return nil
	}
	return e.Raw[e.objOff : e.objOff+e.objLen : e.objOff+e.objLen]
}

// Signed reports whether the entry carries jwsHeader or jwsSignature.
func (e Entry) Signed() bool { return e.signed }

// MarshalJSON returns the entry's bytes unchanged.
func (e Entry) MarshalJSON() ([]byte, error) {
	if len(e.Raw) == 0 {
		return nil, errors.New("spconfig: empty entry")
	}
	return e.Raw, nil
}

// UnmarshalJSON parses an entry, see NewEntry.
func (e *Entry) UnmarshalJSON(b []byte) error {
	v, err := NewEntry(b)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// WithObject returns a copy of the entry whose object field is replaced by
// object (and self.id/self.name left as they are). It refuses signed entries:
// a signed object must reach the target unmodified.
func (e Entry) WithObject(object json.RawMessage) (Entry, error) {
	if e.signed {
		return Entry{}, fmt.Errorf("%s is signed: its object cannot be modified", e.Key())
	}
	if e.Raw == nil {
		return Entry{}, fmt.Errorf("%s: the entry has no bytes", e.Key())
	}
	var buf bytes.Buffer
	buf.Write(e.Raw[:e.objOff])
	if err := json.Compact(&buf, object); err != nil {
		return Entry{}, fmt.Errorf("%s: new object is not valid JSON: %w", e.Key(), err)
	}
	buf.Write(e.Raw[e.objOff+e.objLen:])
	if ne, ok := scanEntry(buf.Bytes(), true); ok {
		return ne, nil
	}
	return newCompactEntry(buf.Bytes())
}

// ExportHeader is everything of an export document except its objects.
type ExportHeader struct {
	Version     int             `json:"version"`
	Timestamp   string          `json:"timestamp,omitempty"`
	Tenant      string          `json:"tenant,omitempty"`
	Description string          `json:"description,omitempty"`
	Options     json.RawMessage `json:"options,omitempty"`
}

// ExportDocument is an SP-Config export (SpConfigExportResults), also the
// format of an import's data file.
type ExportDocument struct {
	ExportHeader
	Objects []Entry
}

// DecodeError reports a document that is not a usable export; Index is the
// 0-based position of the offending entry, or -1 for the envelope.
type DecodeError struct {
	Index int
	Self  Self
	Err   error
}

func (e *DecodeError) Error() string {
	if e.Index < 0 {
		return "export document: " + e.Err.Error()
	}
	if e.Self.Type != "" {
		return fmt.Sprintf("export document: objects[%d] (%s %q): %v", e.Index, e.Self.Type, e.Self.Name, e.Err)
	}
	return fmt.Sprintf("export document: objects[%d]: %v", e.Index, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// DecodeExport stream-decodes an export document from r, calling fn for each
// entry in order, so a large export never sits in memory as a whole. The
// document must be a JSON object with an "objects" array; every entry must have
// self.type and self.name. Unknown envelope keys are ignored. r is read in
// chunks of 256 KB (more for an entry that does not fit); fn's entries do
// not share memory with the chunks.
func DecodeExport(r io.Reader, fn func(i int, e Entry) error) (ExportHeader, error) {
	return decodeExport(r, fn, defaultSplit)
}

// decodeExport is DecodeExport with the splitter's buffer sizes.
func decodeExport(r io.Reader, fn func(i int, e Entry) error, sz splitSizes) (ExportHeader, error) {
	var h ExportHeader
	// The envelope is read by a json.Decoder; the objects array by the
	// splitter in stream.go, which hands the rest back to a new Decoder.
	ho := &handoff{src: &stickyReader{r: r}}
	dec := json.NewDecoder(ho)
	fail := func(i int, err error) (ExportHeader, error) {
		return h, &DecodeError{Index: i, Err: err}
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(-1, fmt.Errorf("not JSON: %w", err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fail(-1, errors.New("not a JSON object"))
	}
	sawObjects := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(-1, fmt.Errorf("bad JSON: %w", err))
		}
		name, _ := tok.(string)
		switch name {
		case "version":
			if err := dec.Decode(&h.Version); err != nil {
				return fail(-1, fmt.Errorf("version: %w", err))
			}
		case "timestamp":
			if err := dec.Decode(&h.Timestamp); err != nil {
				return fail(-1, fmt.Errorf("timestamp: %w", err))
			}
		case "tenant":
			if err := dec.Decode(&h.Tenant); err != nil {
				return fail(-1, fmt.Errorf("tenant: %w", err))
			}
		case "description":
			if err := dec.Decode(&h.Description); err != nil {
				return fail(-1, fmt.Errorf("description: %w", err))
			}
		case "options":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail(-1, fmt.Errorf("options: %w", err))
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return fail(-1, fmt.Errorf("options: %w", err))
			}
			h.Options = buf.Bytes()
		case "objects":
			sawObjects = true
			tok, err := dec.Token()
			if err != nil {
				return fail(-1, fmt.Errorf("objects: %w", err))
			}
			if tok == nil {
				continue
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return fail(-1, errors.New("objects is not an array"))
			}
			if dec, ho, err = decodeObjects(dec, ho, fn, sz); err != nil {
				return h, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(-1, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(-1, fmt.Errorf("unterminated document (truncated download?): %w", err))
	}
	if !sawObjects {
		return fail(-1, errors.New(`no "objects" array: this is not an SP-Config export`))
	}
	return h, nil
}

// ReadExport decodes a whole export document; see DecodeExport.
func ReadExport(r io.Reader) (*ExportDocument, error) {
	doc := &ExportDocument{}
	h, err := DecodeExport(r, func(_ int, e Entry) error {
		doc.Objects = append(doc.Objects, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	doc.ExportHeader = h
	return doc, nil
}

// Encode writes the document as JSON: the envelope keys in the API's order,
// then each entry's bytes unchanged, one per line.
func (d *ExportDocument) Encode(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(`{"version":`)
	fmt.Fprintf(&b, "%d", max(d.Version, 1))
	for _, kv := range []struct{ k, v string }{{"timestamp", d.Timestamp}, {"tenant", d.Tenant}, {"description", d.Description}} {
		if kv.v != "" {
			s, _ := json.Marshal(kv.v)
			fmt.Fprintf(&b, ",%q:%s", kv.k, s)
		}
	}
	if len(d.Options) > 0 {
		b.WriteString(`,"options":`)
		b.Write(d.Options)
	}
	b.WriteString(`,"objects":[`)
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	for i, e := range d.Objects {
		sep := "\n"
		if i > 0 {
			sep = ",\n"
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(e.Raw); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n]}\n")
	return err
}

// Bytes returns the encoded document.
func (d *ExportDocument) Bytes() []byte {
	var b bytes.Buffer
	n := 256 + len(d.Timestamp) + len(d.Tenant) + 2*len(d.Description) + len(d.Options)
	for _, e := range d.Objects {
		n += len(e.Raw) + 2
	}
	b.Grow(n)        // one allocation for a large export, not a doubling series
	_ = d.Encode(&b) // a bytes.Buffer write cannot fail
	return b.Bytes()
}

// ObjectOptions selects objects of one type by id or name.
type ObjectOptions struct {
	IncludedIDs   []string `json:"includedIds,omitempty"`
	IncludedNames []string `json:"includedNames,omitempty"`
}

// ExportPayload is the body of POST /sp-config/export.
type ExportPayload struct {
	Description   string                   `json:"description,omitempty"`
	ExcludeTypes  []string                 `json:"excludeTypes,omitempty"`
	IncludeTypes  []string                 `json:"includeTypes,omitempty"`
	ObjectOptions map[string]ObjectOptions `json:"objectOptions,omitempty"`
}

// ImportOptions is the optional "options" part of POST /sp-config/import.
type ImportOptions struct {
	ExcludeTypes      []string                 `json:"excludeTypes,omitempty"`
	IncludeTypes      []string                 `json:"includeTypes,omitempty"`
	ObjectOptions     map[string]ObjectOptions `json:"objectOptions,omitempty"`
	DefaultReferences []string                 `json:"defaultReferences,omitempty"`
	ExcludeBackup     bool                     `json:"excludeBackup,omitempty"`
}

// Time is a timestamp that parses any RFC 3339 fraction length (the API sends
// 3 to 9 digits, sometimes none) and encodes as RFC 3339 with milliseconds.
type Time struct{ time.Time }

// UnmarshalJSON accepts RFC 3339 with or without fraction or zone, and null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// MarshalJSON encodes the time in UTC with millisecond precision.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`), nil
}

// ParseTime parses the API's timestamps: RFC 3339 with any fraction length,
// or without a zone (taken as UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", s)
}

// Job is the status of an export or import job (SpConfigJob with the export
// job's description).
type Job struct {
	JobID       string `json:"jobId"`
	Status      string `json:"status"`
	Type        string `json:"type"`
	Expiration  Time   `json:"expiration"`
	Created     Time   `json:"created"`
	Modified    Time   `json:"modified"`
	Description string `json:"description,omitempty"`
	// Message is the server's explanation of a FAILED or CANCELLED job when it
	// sends one (not in the schema; real tenants sometimes include it).
	Message string `json:"message,omitempty"`
}

// Done reports whether the job reached a terminal status.
func (j Job) Done() bool {
	return j.Status == StatusComplete || j.Status == StatusFailed || j.Status == StatusCancelled
}

// Message is a result message. The schema says {key, text, details}; real bodies
// send "key": null and "detail" (singular), so decoding is loose and encoding
// follows the schema.
type Message struct {
	Key     string         `json:"key"`
	Text    string         `json:"text"`
	Details map[string]any `json:"details"`
}

// UnmarshalJSON accepts key null, and details under "details" or "detail".
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key     *string         `json:"key"`
		Text    *string         `json:"text"`
		Details json.RawMessage `json:"details"`
		Detail  json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("message: %w", err)
	}
	*m = Message{}
	if raw.Key != nil {
		m.Key = *raw.Key
	}
	if raw.Text != nil {
		m.Text = *raw.Text
	}
	d := raw.Details
	if len(d) == 0 || string(d) == "null" {
		d = raw.Detail
	}
	if len(d) > 0 && string(d) != "null" {
		var details map[string]any
		if err := json.Unmarshal(d, &details); err == nil {
			m.Details = details
		} else {
			var v any
			if json.Unmarshal(d, &v) == nil {
				m.Details = map[string]any{"detail": v}
			}
		}
	}
	return nil
}

// MarshalJSON follows the schema: key, text and details are always present.
func (m Message) MarshalJSON() ([]byte, error) {
	d := m.Details
	if d == nil {
		d = map[string]any{}
	}
	return json.Marshal(struct {
		Key     string         `json:"key"`
		Text    string         `json:"text"`
		Details map[string]any `json:"details"`
	}{m.Key, m.Text, d})
}

// ImportObject names an object an import created or updated.
type ImportObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ObjectImportResult is the per-type result of an import.
type ObjectImportResult struct {
	Infos           []Message      `json:"infos"`
	Warnings        []Message      `json:"warnings"`
	Errors          []Message      `json:"errors"`
	ImportedObjects []ImportObject `json:"importedObjects"`
}

// ImportResults is the download of an import job (SpConfigImportResults).
type ImportResults struct {
	Results     map[string]ObjectImportResult `json:"results"`
	ExportJobID string                        `json:"exportJobId,omitempty"`
}

// Count returns the total number of errors and warnings across types.
func (r *ImportResults) Count() (errs, warnings int) {
	for _, t := range r.Results {
		errs += len(t.Errors)
		warnings += len(t.Warnings)
	}
	return errs, warnings
}

// ConfigObject describes one type's capabilities (GET /sp-config/config-objects).
type ConfigObject struct {
	ObjectType          string          `json:"objectType"`
	ReferenceExtractors []string        `json:"referenceExtractors,omitempty"`
	SignatureRequired   bool            `json:"signatureRequired"`
	AlwaysResolveByID   bool            `json:"alwaysResolveById"`
	LegacyObject        bool            `json:"legacyObject"`
	OnePerTenant        bool            `json:"onePerTenant"`
	Exportable          bool            `json:"exportable"`
	Rules               json.RawMessage `json:"rules,omitempty"`
}

// SortEntries orders entries by key, then by self.id, so outputs are stable.
func SortEntries(es []Entry) {
	if !slices.IsSortedFunc(es, compareEntries) { // often sorted already
		slices.SortStableFunc(es, compareEntries)
	}
}

func compareEntries(a, b Entry) int {
	if ak, bk := a.Key(), b.Key(); ak != bk {
		if ak.Less(bk) {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Self.ID, b.Self.ID)
}
