package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"iter"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"promoter/positions"
	"promoter/spconfig"
)

// keyedSet is an array compared as a set: element key -> element. Paths into
// it render as "[key]". It marshals back to an array in key order.
type keyedSet map[string]any

func (s keyedSet) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = s[k]
	}
	return marshalCompact(vals)
}

// idIndex maps the ids of one side's entries (self.id and object.id) to the
// entry they name, by reference: a positions.Table of the claims the
// entries make, whose ids are the entries' own strings. An index of tens of
// thousands of entries holds no string of its own and about 24 bytes a
// claim (issue 18); the token and name of an entry are made when a
// comparison looks an id up.
type idIndex struct {
	claims []idRef
	table  positions.Table
	other  map[int32]string // the id of a claim of an object.id that is not the self.id
}

// idRef is the entry an id names; strong when the entry's object.id is the
// id (not only its self.id); object when the claim is of an object.id other
// than the self.id.
type idRef struct {
	e              *spconfig.Entry
	strong, object bool
}

var idSeed = maphash.MakeSeed()

// id is the id claim i is of.
func (x *idIndex) id(i int32) string {
	if x.claims[i].object {
		return x.other[i]
	}
	return x.claims[i].e.Self.ID
}

// slot returns the table's slot of id (positions.Table.Slot).
func (x *idIndex) slot(id string) *int32 {
	return x.table.Slot(maphash.String(idSeed, id), func(p int) bool { return x.id(int32(p)) == id })
}

// find returns the claim of id.
func (x *idIndex) find(id string) (idRef, bool) {
	p, ok := x.table.Find(maphash.String(idSeed, id), func(p int) bool { return x.id(int32(p)) == id })
	if !ok {
		return idRef{}, false
	}
	return x.claims[p], true
}

// idLookup resolves ids through several indexes as one index of all their
// entries would (buildIndex's rule: a strong claim wins, then the smallest
// token; on a tie the earlier index).
type idLookup []*idIndex

func (l idLookup) find(id string) (idRef, bool) {
	var best idRef
	found := false
	for _, x := range l {
		if r, ok := x.find(id); ok && (!found || r.beats(best)) {
			best, found = r, true
		}
	}
	return best, found
}

// beats reports whether claim r wins over claim o of the same id: a strong
// claim over a weak one, then the smaller token (tokens are made only when
// the keys differ: a promoted folder and its source claim the same ids for
// the same keys).
func (r idRef) beats(o idRef) bool {
	if r.strong != o.strong {
		return r.strong
	}
	if rk, ok := r.e.Key(), o.e.Key(); rk == ok {
		return false
	}
	return r.token() < o.token()
}

// token is the symbolic token of the entry, "${TYPE:Name}".
func (r idRef) token() string { return tokenFor(r.e.Key()) }

// name is the display name of the entry.
func (r idRef) name() string { return r.e.Key().Name }

func tokenFor(k spconfig.Key) string {
	name := k.Name
	if k.Scope != "" {
		name = k.Scope + "/" + k.Name
	}
	return "${" + k.Type + ":" + name + "}"
}

// buildIndex maps every id of one side to the entry it names. Some ids are
// claimed twice (an ATTR_SYNC_SOURCE_CONFIG's self.id is its source's id): an
// entry whose object.id is the id wins over one that only carries it as
// self.id, and among equals the smallest token wins, so the index never
// depends on the order of the entries. The index refers to the entries seq
// yields and to those of sets, which must not change while it is used.
func buildIndex(n int, seq iter.Seq[*spconfig.Entry], sets ...[]spconfig.Entry) *idIndex {
	for _, es := range sets {
		n += len(es)
	}
	x := &idIndex{claims: make([]idRef, 0, n)}
	add := func(id string, e *spconfig.Entry, strong bool) {
		r := idRef{e: e, strong: strong, object: id != e.Self.ID}
		if r.object {
			if x.other == nil {
				x.other = map[int32]string{}
			}
			x.other[int32(len(x.claims))] = id
		}
		x.claims = append(x.claims, r)
	}
	if seq != nil {
		for e := range seq {
			claimEntry(e, add)
		}
	}
	for _, es := range sets {
		for i := range es {
			claimEntry(&es[i], add)
		}
	}
	x.table = positions.New(len(x.claims))
	for i, r := range x.claims {
		if s := x.slot(x.id(int32(i))); *s == 0 || r.beats(x.claims[*s-1]) {
			*s = int32(i + 1)
		}
	}
	return x
}

// claimEntry claims the ids of one entry (see buildIndex).
func claimEntry(e *spconfig.Entry, claim func(id string, e *spconfig.Entry, strong bool)) {
	c := e.IDClaims()
	if c.Self != "" && c.SelfInObject {
		claim(c.Self, e, true) // the usual case: object.id equals self.id
		return
	}
	if c.Self != "" {
		claim(c.Self, e, false)
	}
	if c.Object != "" && c.Object != c.Self {
		claim(c.Object, e, true)
	}
}

// normalizer turns one object into the JSON-shaped value that is compared:
// volatile fields dropped, sets turned into keyedSets, references reduced to
// type and name, tenant ids translated (cross-tenant).
type normalizer struct {
	rules    map[string]Rule
	children map[string]map[string]bool // path -> keys leading to a rule; "" is passed elsewhere
	cross    bool
	index    idLookup
	rewrite  bool // strings may be rewritten (false for signed types)
}

func newNormalizer(typ string, cross bool, idx idLookup) *normalizer {
	return &normalizer{rules: typeRules(typ), children: typeChildren(typ), cross: cross, index: idx, rewrite: !spconfig.SignedType(typ)}
}

func (n *normalizer) object(raw []byte) (any, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, err
	}
	out := n.value(v, "$")
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

func (n *normalizer) value(v any, path string) any {
	switch x := v.(type) {
	case map[string]any:
		return n.mapValue(x, path)
	case []any:
		return n.array(x, path)
	case string:
		return n.str(x)
	default:
		return v
	}
}

func (n *normalizer) mapValue(m map[string]any, path string) any {
	if ref, ok := n.reference(m); ok {
		return ref
	}
	// m is freshly decoded and owned by the normaliser: edit it in place.
	var next map[string]bool
	if path != "" {
		next = n.children[path]
	}
	for k, v := range m {
		p := ""
		if next[k] {
			p = path + "." + k
			if r, ok := n.rules[p]; ok && r.Action == Ignore {
				delete(m, k)
				continue
			}
		}
		nv := n.value(v, p)
		if isEmpty(nv) {
			delete(m, k) // empty-is-absent
			continue
		}
		m[k] = nv
	}
	return m
}

// reference reduces {type, id, name} to {type, name}; an id-only reference
// keeps its id, translated through the index in cross-tenant mode.
func (n *normalizer) reference(m map[string]any) (map[string]any, bool) {
	typ, ok := m["type"].(string)
	if !ok || !isTypeName(typ) {
		return nil, false
	}
	id, hasID := m["id"]
	ids, idIsString := id.(string)
	if !hasID || (!idIsString && id != nil) {
		return nil, false
	}
	for k := range m {
		if k != "type" && k != "id" && k != "name" {
			return nil, false
		}
	}
	if name, ok := m["name"].(string); ok && name != "" {
		return map[string]any{"type": typ, "name": n.str(name)}, true
	}
	if n.cross {
		if ref, ok := n.index.find(ids); ok {
			return map[string]any{"type": typ, "name": ref.name()}, true
		}
	}
	out := map[string]any{"type": typ}
	if ids != "" {
		out["id"] = n.str(ids)
	}
	return out, true
}

func isTypeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && c != '_' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (n *normalizer) array(a []any, path string) any {
	ep := ""
	if path != "" && n.children[path+"[]"] != nil {
		ep = path + "[]"
	}
	elems := a // owned by the normaliser: edit in place
	for i, v := range a {
		elems[i] = n.value(v, ep)
	}
	r, hasRule := n.rules[path]
	if path == "" {
		hasRule = false
	}
	switch {
	case hasRule && r.Action == Set:
		return scalarSet(elems)
	case hasRule && r.Action == KeyedSet:
		if s, ok := keyedBy(elems, r.Key); ok {
			return s
		}
		return elems
	case hasRule && r.Action == Ordered:
		return elems
	}
	if s, ok := referenceSet(elems); ok {
		return s
	}
	return elems
}

// scalarSet keys each element by its canonical JSON; repeats get "#2", "#3".
func scalarSet(elems []any) keyedSet {
	s := make(keyedSet, len(elems))
	for _, e := range elems {
		addUnique(s, canonicalText(e), e)
	}
	return s
}

func addUnique(s keyedSet, k string, v any) {
	if _, dup := s[k]; !dup {
		s[k] = v
		return
	}
	for i := 2; ; i++ {
		kk := k + "#" + strconv.Itoa(i)
		if _, dup := s[kk]; !dup {
			s[kk] = v
			return
		}
	}
}

func keyedBy(elems []any, field string) (keyedSet, bool) {
	s := make(keyedSet, len(elems))
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		kv, ok := m[field]
		if !ok {
			return nil, false
		}
		ks, ok := kv.(string)
		if !ok {
			ks = canonicalText(kv)
		}
		addUnique(s, field+"="+ks, e)
	}
	return s, true
}

func referenceSet(elems []any) (keyedSet, bool) {
	if len(elems) == 0 {
		return nil, false
	}
	s := make(keyedSet, len(elems))
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok || len(m) != 2 {
			return nil, false
		}
		typ, ok := m["type"].(string)
		if !ok || !isTypeName(typ) {
			return nil, false
		}
		var id string
		if name, ok := m["name"].(string); ok {
			id = name
		} else if v, ok := m["id"].(string); ok {
			id = v
		} else {
			return nil, false
		}
		addUnique(s, typ+":"+id, e)
	}
	return s, true
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case keyedSet:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

var sourceSuffix = regexp.MustCompile(`\[source-[0-9]+\]`)

func (n *normalizer) str(s string) string {
	if !n.rewrite {
		return s
	}
	if strings.Contains(s, "[source-") {
		s = sourceSuffix.ReplaceAllString(s, "[source-N]")
	}
	if n.cross && len(s) >= 32 {
		s = rewriteIDs(s, n.index)
	}
	return s
}

// rewriteIDs replaces every 32-hex or UUID token of s (bounded by characters
// that are not letters, digits, '-' or '_') by its index token, or by a shape
// token when the id is unknown.
func rewriteIDs(s string, idx idLookup) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if i > 0 && isWordByte(s[i-1]) {
			i++
			continue
		}
		l, shape := idAt(s, i)
		if l == 0 {
			i++
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		if ref, ok := idx.find(s[i : i+l]); ok {
			b.WriteString(ref.token())
		} else {
			b.WriteString("${id:" + shape + "}")
		}
		i += l
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// idAt reports the length and shape of an id starting at s[i], or 0.
func idAt(s string, i int) (int, string) {
	// UUID: 8-4-4-4-12
	if i+36 <= len(s) && (i+36 == len(s) || !isWordByte(s[i+36])) {
		ok := true
		for j := 0; j < 36 && ok; j++ {
			c := s[i+j]
			if j == 8 || j == 13 || j == 18 || j == 23 {
				ok = c == '-'
			} else {
				ok = isHex(c)
			}
		}
		if ok {
			return 36, "uuid"
		}
	}
	if i+32 <= len(s) && (i+32 == len(s) || !isWordByte(s[i+32])) {
		for j := 0; j < 32; j++ {
			if !isHex(s[i+j]) {
				return 0, ""
			}
		}
		return 32, "hex32"
	}
	return 0, ""
}

// canonicalNumber renders a JSON number literal so that equal values give
// equal strings (10, 10.0 and 1e1 all give "1e1"). It works on the text, so
// a huge exponent costs nothing; a literal it cannot parse is returned as is.
func canonicalNumber(lit string) string {
	s := lit
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e > 1<<40 || e < -(1<<40) {
			return lit
		}
		mant, exp = s[:i], e
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	exp -= int64(len(frac))
	if digits == "" {
		return "0"
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	out := trimmed + "e" + strconv.FormatInt(exp, 10)
	if neg {
		out = "-" + out
	}
	return out
}

// canonicalText is a deterministic text form of a normalised value used as a
// set key: strings are quoted JSON, numbers canonical, objects by sorted keys.
func canonicalText(v any) string {
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String()
}

func writeCanonical(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(canonicalNumber(string(x)))
	case string:
		q, _ := marshalCompact(x)
		b.Write(q)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		writeCanonicalMap(b, x)
	case keyedSet:
		writeCanonicalMap(b, x)
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

func writeCanonicalMap[M ~map[string]any](b *strings.Builder, m M) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		q, _ := marshalCompact(k)
		b.Write(q)
		b.WriteByte(':')
		writeCanonical(b, m[k])
	}
	b.WriteByte('}')
}

// jsonEqual compares two normalised values; numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && (x == y || canonicalNumber(string(x)) == canonicalNumber(string(y)))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && mapsEqual(x, y)
	case keyedSet:
		y, ok := b.(keyedSet)
		return ok && mapsEqual(x, y)
	}
	return false
}

func mapsEqual[M ~map[string]any](x, y M) bool {
	if len(x) != len(y) {
		return false
	}
	for k, xv := range x {
		yv, ok := y[k]
		if !ok || !jsonEqual(xv, yv) {
			return false
		}
	}
	return true
}

// marshalCompact encodes v as compact JSON without HTML escaping.
func marshalCompact(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// marshalIndent encodes v indented by two spaces without HTML escaping.
func marshalIndent(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// decode parses an object, numbers kept as json.Number literals.
func decode(raw []byte) (any, error) { return parseJSON(raw) }
