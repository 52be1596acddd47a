package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-cmp/cmp"

	"promoter/spconfig"
)

// Kind is what happened to an object.
type Kind string

const (
	Added     Kind = "added"
	Removed   Kind = "removed"
	Modified  Kind = "modified"
	Renamed   Kind = "renamed"
	Unchanged Kind = "unchanged"
)

// Field change kinds.
const (
	FieldAdded   = "added"
	FieldRemoved = "removed"
	FieldChanged = "changed"
)

// FieldChange is one changed value inside an object.
type FieldChange struct {
	// Path is the JSON path from the object root: "$.attributes.value";
	// "[field=value]" selects an element of a set keyed by a field
	// ("$.identityAttributeConfig.attributeTransforms[identityAttributeName=department]"),
	// "[TYPE:name]" an element of a set of references, `["value"]` (a quoted
	// JSON value) an element of a set of values, "[2]" a position otherwise.
	Path string
	Kind string // FieldAdded, FieldRemoved or FieldChanged
	// Old and New are the compact JSON of the compared values (nil when
	// absent). They are the normalised values: reference ids are dropped and,
	// across tenants, ids appear as "${TYPE:Name}" or "${id:shape}" tokens.
	Old, New json.RawMessage
}

// Change is the comparison result for one object.
type Change struct {
	Key      spconfig.Key // the new key (for Renamed, the key after the rename)
	Kind     Kind
	OldName  string          // for Renamed: the old Key.Name
	Old, New *spconfig.Entry // nil when absent
	Fields   []FieldChange   // for Modified and Renamed
	// Importable is spconfig.Importable(Key.Type).
	Importable bool
	// Signed is true for signed types (RULE, CONNECTOR_RULE) and for entries
	// carrying a JWS header or signature.
	Signed bool
	// Note is free text set by callers and shown by every renderer, e.g.
	// "not deleted (SP-Config cannot delete)", "drift", "conflict".
	Note string
}

// Options control a comparison.
type Options struct {
	// CrossTenant says old and new come from different tenants: bare ids are
	// translated through each side's own index, unknown ids compare by shape,
	// and rename detection by id is off. See Rules.
	CrossTenant bool
	// IncludeUnchanged lists unchanged objects in Result.Changes.
	IncludeUnchanged bool
	// Restrict, when set, limits the comparison to the keys it accepts:
	// other objects are neither compared nor reported. Ids still translate
	// through the indexes of the whole sets, so a restricted comparison
	// reports exactly what the full one reports for those keys.
	Restrict func(spconfig.Key) bool
	// IndexOld and IndexNew are more entries whose ids resolve on that side
	// (CrossTenant only); they are never compared. A desired state holds ids
	// of the tenant each file came from: the target's own (a baseline) and
	// the source's (a promotion), so its side also indexes the source.
	IndexOld, IndexNew []spconfig.Entry
	// SharedOld and SharedNew, when set, are the indexes of the two sides
	// (CrossTenant only), made by NewIndex from exactly that side's entries
	// and its Index entries, so several comparisons of the same sets build
	// each index once. IndexOld and IndexNew are then ignored.
	SharedOld, SharedNew *Index
}

// Index is the id index of one side of a cross-tenant comparison, built on
// first use: a comparison whose pairs are all byte-identical (the usual
// case for most objects of a large tenant) never builds it (issue 18).
type Index struct {
	once     sync.Once
	sets     [][]spconfig.Entry
	seq      iter.Seq[*spconfig.Entry] // NewIndexOf
	n        int                       // the length of seq
	under    []*Index                  // NewIndexOf: indexes whose ids this one resolves too
	idx      *idIndex
	panicked any
}

// NewIndex returns the (lazy) index of the entries of sets; the entries must
// not change until the comparisons that use it are done.
func NewIndex(sets ...[]spconfig.Entry) *Index { return &Index{sets: sets} }

// NewIndexOf is NewIndex of the n entries seq yields, for a caller that
// holds its entries inside other values (no copy is made; the entries must
// not change while the index is used), and of the entries of the indexes
// under it: an id resolves as in one index of all of them, and indexes
// that share a set (the source folder a target folder resolves through)
// share its index.
func NewIndexOf(n int, seq iter.Seq[*spconfig.Entry], under ...*Index) *Index {
	return &Index{seq: seq, n: n, under: under}
}

// get returns the tables of x and of the indexes under it, each built on
// first use.
func (x *Index) get() idLookup {
	if x == nil {
		return nil
	}
	out := idLookup{x.own()}
	for _, u := range x.under {
		out = append(out, u.get()...)
	}
	return out
}

// own returns x's own table, built on first use.
func (x *Index) own() *idIndex {
	x.once.Do(func() {
		defer func() { x.panicked = recover() }()
		x.idx = buildIndex(x.n, x.seq, x.sets...)
		x.sets, x.seq = nil, nil
	})
	if x.panicked != nil {
		panic(x.panicked) // Compare turns it into an error, every time
	}
	return x.idx
}

// Result is the outcome of Compare.
type Result struct {
	Changes []Change // sorted by Key
	// UnchangedCounts counts, per type, the unchanged objects that are not
	// listed in Changes (set by Compare when IncludeUnchanged is false).
	UnchangedCounts map[string]int
}

// TypeCount counts the changes of one type.
type TypeCount struct {
	Type                                         string
	Added, Removed, Modified, Renamed, Unchanged int
}

// Total is the number of objects of this type on either side.
func (c TypeCount) Total() int {
	return c.Added + c.Removed + c.Modified + c.Renamed + c.Unchanged
}

// Counts returns one row per type that occurs in the result, sorted by type.
func (r Result) Counts() []TypeCount {
	m := map[string]*TypeCount{}
	get := func(t string) *TypeCount {
		if c, ok := m[t]; ok {
			return c
		}
		c := &TypeCount{Type: t}
		m[t] = c
		return c
	}
	for _, ch := range r.Changes {
		c := get(ch.Key.Type)
		switch ch.Kind {
		case Added:
			c.Added++
		case Removed:
			c.Removed++
		case Modified:
			c.Modified++
		case Renamed:
			c.Renamed++
		case Unchanged:
			c.Unchanged++
		}
	}
	for t, n := range r.UnchangedCounts {
		get(t).Unchanged += n
	}
	out := make([]TypeCount, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b TypeCount) int {
		if a.Type < b.Type {
			return -1
		}
		if a.Type > b.Type {
			return 1
		}
		return 0
	})
	return out
}

// Empty reports whether the result holds no change other than Unchanged.
func (r Result) Empty() bool {
	for _, c := range r.Changes {
		if c.Kind != Unchanged {
			return false
		}
	}
	return true
}

// skipFastPath disables the identical-bytes shortcut (tests use it so that
// Compare(a, a) exercises the normaliser).
var skipFastPath = false

// Compare matches old and new entries by spconfig.Key and reports what
// changed. Within one tenant (!o.CrossTenant), an unmatched old entry and an
// unmatched new entry with the same self.id are a rename. When a key occurs
// more than once on a side, entries of that key pair up in self.id order.
// Compare never panics: a panic while comparing becomes an error.
func Compare(old, new []spconfig.Entry, o Options) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{}, fmt.Errorf("diff compare: internal error: %v", p)
		}
	}()
	var oldIdx, newIdx *Index
	if o.CrossTenant {
		oldIdx, newIdx = o.SharedOld, o.SharedNew
		if oldIdx == nil {
			oldIdx = NewIndex(old, o.IndexOld)
		}
		if newIdx == nil {
			newIdx = NewIndex(new, o.IndexNew)
		}
	}
	// A restricted comparison sorts only the entries it compares: a plan or
	// a verify compares a few changed objects of large sets (issue 18).
	oi, ni := sortedIndex(old, o.Restrict), sortedIndex(new, o.Restrict)
	for _, side := range []struct {
		es  []spconfig.Entry
		pos []int
	}{{old, oi}, {new, ni}} {
		for _, i := range side.pos {
			if side.es[i].IsThin() {
				return Result{}, fmt.Errorf("diff compare: %s has no bytes to compare (a thin entry)", side.es[i].Key())
			}
		}
	}
	var changes []Change
	unchanged := map[string]int{}
	var oldOnly, newOnly []*spconfig.Entry
	// merge join on the sorted keys; runs of one key pair up in self.id order
	var pairs [][2]*spconfig.Entry
	for a, b := 0, 0; a < len(oi) || b < len(ni); {
		switch {
		case b == len(ni) || (a < len(oi) && old[oi[a]].Key().Less(new[ni[b]].Key())):
			oldOnly = append(oldOnly, &old[oi[a]])
			a++
		case a == len(oi) || new[ni[b]].Key().Less(old[oi[a]].Key()):
			newOnly = append(newOnly, &new[ni[b]])
			b++
		default:
			k := old[oi[a]].Key()
			ea, eb := a, b
			for ea < len(oi) && old[oi[ea]].Key() == k {
				ea++
			}
			for eb < len(ni) && new[ni[eb]].Key() == k {
				eb++
			}
			for i := 0; i < max(ea-a, eb-b); i++ {
				switch {
				case a+i >= ea:
					newOnly = append(newOnly, &new[ni[b+i]])
				case b+i >= eb:
					oldOnly = append(oldOnly, &old[oi[a+i]])
				default:
					pairs = append(pairs, [2]*spconfig.Entry{&old[oi[a+i]], &new[ni[b+i]]})
				}
			}
			a, b = ea, eb
		}
	}
	compared, err := comparePairs(pairs, o, oldIdx, newIdx)
	if err != nil {
		return Result{}, err
	}
	for _, ch := range compared {
		if ch.Kind == Unchanged && !o.IncludeUnchanged {
			unchanged[ch.Key.Type]++
			continue
		}
		changes = append(changes, ch)
	}
	if !o.CrossTenant {
		// rename detection: same self.id, different key, same type
		byID := map[string]*spconfig.Entry{}
		for _, oe := range oldOnly {
			if oe.Self.ID != "" {
				byID[oe.Self.Type+"\x00"+oe.Self.ID] = oe
			}
		}
		matched := map[*spconfig.Entry]bool{}
		rest := newOnly[:0:0]
		for _, ne := range newOnly {
			oe, ok := byID[ne.Self.Type+"\x00"+ne.Self.ID]
			if !ok || ne.Self.ID == "" || matched[oe] {
				rest = append(rest, ne)
				continue
			}
			matched[oe] = true
			ch, err := comparePair(oe, ne, ne.Key(), o, nil, nil)
			if err != nil {
				return Result{}, err
			}
			ch.Kind, ch.OldName = Renamed, oe.Key().Name
			changes = append(changes, ch)
		}
		newOnly = rest
		restOld := oldOnly[:0:0]
		for _, oe := range oldOnly {
			if !matched[oe] {
				restOld = append(restOld, oe)
			}
		}
		oldOnly = restOld
	}
	for _, oe := range oldOnly {
		changes = append(changes, newChange(oe.Key(), Removed, oe, nil))
	}
	for _, ne := range newOnly {
		changes = append(changes, newChange(ne.Key(), Added, nil, ne))
	}
	sortChanges(changes)
	res = Result{Changes: changes}
	if !o.IncludeUnchanged && len(unchanged) > 0 {
		res.UnchangedCounts = unchanged
	}
	return res, nil
}

func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		if a.Key != b.Key {
			if a.Key.Less(b.Key) {
				return -1
			}
			return 1
		}
		if a.Kind != b.Kind {
			if a.Kind < b.Kind {
				return -1
			}
			return 1
		}
		return 0
	})
}

// sortedIndex returns the positions of the entries of es that keep accepts
// (all when nil) ordered by key, then self.id.
func sortedIndex(es []spconfig.Entry, keep func(spconfig.Key) bool) []int {
	idx := make([]int, 0, len(es))
	for i := range es {
		if keep == nil || keep(es[i].Key()) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(x, y int) int {
		kx, ky := es[x].Key(), es[y].Key()
		if kx != ky {
			if kx.Less(ky) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(es[x].Self.ID, es[y].Self.ID); c != 0 {
			return c
		}
		return x - y // equal keys and ids keep their order, restricted or not
	})
	return idx
}

func newChange(k spconfig.Key, kind Kind, old, new *spconfig.Entry) Change {
	signed := spconfig.SignedType(k.Type) || (old != nil && old.Signed()) || (new != nil && new.Signed())
	return Change{Key: k, Kind: kind, Old: old, New: new, Importable: spconfig.Importable(k.Type), Signed: signed}
}

// comparePairs compares matched pairs on all CPUs; the result keeps the
// order of pairs. The first error (in pair order) wins.
func comparePairs(pairs [][2]*spconfig.Entry, o Options, oldIdx, newIdx *Index) ([]Change, error) {
	out := make([]Change, len(pairs))
	errs := make([]error, len(pairs))
	const chunk = 256
	workers := min(runtime.GOMAXPROCS(0), (len(pairs)+chunk-1)/chunk)
	var next atomic.Int64
	var wg sync.WaitGroup
	panics := make(chan any, max(workers, 1))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					panics <- p
				}
			}()
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= len(pairs) {
					return
				}
				for i := start; i < min(start+chunk, len(pairs)); i++ {
					out[i], errs[i] = comparePair(pairs[i][0], pairs[i][1], pairs[i][0].Key(), o, oldIdx, newIdx)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case p := <-panics:
		return nil, fmt.Errorf("diff compare: internal error: %v", p)
	default:
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func comparePair(oe, ne *spconfig.Entry, k spconfig.Key, o Options, oldIdx, newIdx *Index) (Change, error) {
	ch := newChange(k, Unchanged, oe, ne)
	if !skipFastPath && oe.Key() == ne.Key() && bytes.Equal(oe.Object(), ne.Object()) {
		return ch, nil
	}
	fields, err := objectChanges(oe, ne, o, oldIdx, newIdx)
	if err != nil {
		return Change{}, err
	}
	if len(fields) > 0 {
		ch.Kind, ch.Fields = Modified, fields
	}
	return ch, nil
}

// label names an entry in errors, also one built without NewEntry.
func label(e *spconfig.Entry) string {
	if k := e.Key(); k.Type != "" {
		return k.String()
	}
	return e.Self.Type + " " + e.Self.Name
}

func normalizePair(oe, ne *spconfig.Entry, o Options, oldIdx, newIdx *Index) (any, any, error) {
	x, err := newNormalizer(oe.Self.Type, o.CrossTenant, oldIdx.get()).object(oe.Object())
	if err != nil {
		return nil, nil, fmt.Errorf("diff %s (old, id %s): object is not valid JSON: %w", label(oe), oe.Self.ID, err)
	}
	y, err := newNormalizer(ne.Self.Type, o.CrossTenant, newIdx.get()).object(ne.Object())
	if err != nil {
		return nil, nil, fmt.Errorf("diff %s (new, id %s): object is not valid JSON: %w", label(ne), ne.Self.ID, err)
	}
	return x, y, nil
}

// objectChanges normalises both objects and, when they differ, lists the
// changed fields through a cmp.Reporter.
func objectChanges(oe, ne *spconfig.Entry, o Options, oldIdx, newIdx *Index) ([]FieldChange, error) {
	x, y, err := normalizePair(oe, ne, o, oldIdx, newIdx)
	if err != nil {
		return nil, err
	}
	if jsonEqual(x, y) {
		return nil, nil
	}
	fields, err := fieldChanges(x, y)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", label(ne), err)
	}
	if len(fields) == 0 {
		// cmp and jsonEqual disagree only if the reporter missed a leaf;
		// never hide a difference.
		fields = []FieldChange{{Path: "$", Kind: FieldChanged, Old: mustJSON(x), New: mustJSON(y)}}
	}
	return fields, nil
}

var numberComparer = cmp.Comparer(func(a, b json.Number) bool {
	return a == b || canonicalNumber(string(a)) == canonicalNumber(string(b))
})

// fieldChanges runs go-cmp over two JSON-shaped values with a reporter that
// collects every unequal leaf. A go-cmp panic becomes an error.
func fieldChanges(x, y any) (fields []FieldChange, err error) {
	defer func() {
		if p := recover(); p != nil {
			fields, err = nil, fmt.Errorf("comparing values: go-cmp panicked: %v", p)
		}
	}()
	r := &reporter{}
	cmp.Equal(x, y, numberComparer, cmp.Reporter(r))
	return r.fields, nil
}

type reporter struct {
	path   cmp.Path
	fields []FieldChange
}

func (r *reporter) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }
func (r *reporter) PopStep()                 { r.path = r.path[:len(r.path)-1] }

func (r *reporter) Report(rs cmp.Result) {
	if rs.Equal() {
		return
	}
	vx, vy := r.path.Last().Values()
	fc := FieldChange{Path: jsonPath(r.path)}
	if vx.IsValid() {
		fc.Old = mustJSON(vx.Interface())
	}
	if vy.IsValid() {
		fc.New = mustJSON(vy.Interface())
	}
	switch {
	case fc.Old == nil:
		fc.Kind = FieldAdded
	case fc.New == nil:
		fc.Kind = FieldRemoved
	default:
		fc.Kind = FieldChanged
	}
	r.fields = append(r.fields, fc)
}

var keyedSetType = reflect.TypeOf(keyedSet(nil))

func jsonPath(p cmp.Path) string {
	b := []byte{'$'}
	for i, step := range p {
		switch s := step.(type) {
		case cmp.MapIndex:
			k := s.Key().String()
			if i > 0 && p[i-1].Type() == keyedSetType {
				b = append(b, '[')
				b = append(b, k...)
				b = append(b, ']')
			} else if isIdent(k) {
				b = append(b, '.')
				b = append(b, k...)
			} else {
				q, _ := marshalCompact(k)
				b = append(b, '[')
				b = append(b, q...)
				b = append(b, ']')
			}
		case cmp.SliceIndex:
			ix, iy := s.SplitKeys()
			idx := iy
			if idx < 0 {
				idx = ix
			}
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(idx), 10)
			b = append(b, ']')
		}
	}
	return string(b)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func mustJSON(v any) json.RawMessage {
	b, err := marshalCompact(v)
	if err != nil {
		q, _ := marshalCompact(fmt.Sprint(v))
		return q
	}
	return b
}
