package spconfig

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// This file holds the fast path of NewEntry (issue 9): one pass over the
// entry's bytes that validates the JSON, drops insignificant whitespace
// exactly as json.Compact does, and picks out self.{name,id,type}, the
// object's span, the presence of jwsHeader/jwsSignature, object.name and
// object.identityProfileRef.name. Whatever the fast path is not sure to
// handle exactly as encoding/json would (invalid JSON, a missing or odd
// field, a duplicate or case-folded key, escaped or non-ASCII keys, deep
// nesting) makes it give up (and a duplicate key anywhere, which the
// reference path refuses), and NewEntry takes the reference path
// (json.Compact and json.Unmarshal), so results and error messages are the
// same by construction. FuzzEntryScan checks the two paths agree.

// scanCtx says which part of an entry a JSON object is.
type scanCtx uint8

const (
	ctxNone   scanCtx = iota
	ctxTop            // the entry
	ctxSelf           // entry.self
	ctxObject         // entry.object
	ctxRef            // entry.object.identityProfileRef
)

// maxScanDepth bounds the fast path's recursion; deeper documents take the
// reference path (encoding/json allows 10,000 levels).
const maxScanDepth = 200

// strField is a string-valued field as encoding/json would decode it into a
// string: seen, null (leaves "" in place), a string, or another type (an
// unmarshal error).
type strField struct {
	seen, bad bool
	val       string
}

type entryScan struct {
	src     []byte
	i       int
	out     []byte // compacted bytes written so far; nil while src needs no change
	last    int    // src[last:] is not yet in out
	removed int    // whitespace bytes dropped before last

	self               *Self
	selfSeen           bool
	name, id, typ      strField
	objStart, objEnd   int // in output positions
	objSeen            bool
	jwsH, jwsS         bool // present and a string
	jwsHSeen, jwsSSeen bool
	objName, refName   strField
	refSeen, refBad    bool
}

// typeNames holds one string of each exportable type name: a run keeps the
// self of every object it read (thin entries), each with its type.
var typeNames = func() map[string]string {
	m := make(map[string]string, len(exportableTypes))
	for _, t := range exportableTypes {
		m[t] = t
	}
	return m
}()

// scanEntry is the fast path of NewEntry. It returns ok=false when the
// reference path must decide. With owned set the result may alias raw.
func scanEntry(raw []byte, owned bool) (Entry, bool) {
	s := entryScan{src: raw}
	s.skipSpace()
	if s.i >= len(raw) || raw[s.i] != '{' {
		return Entry{}, false
	}
	if !s.object(ctxTop, 0) {
		return Entry{}, false
	}
	s.skipSpace()
	if s.i != len(raw) {
		return Entry{}, false
	}
	var compact []byte
	if s.out == nil {
		compact = raw
		if !owned {
			compact = append(make([]byte, 0, len(raw)), raw...)
		}
	} else {
		compact = append(s.out, raw[s.last:]...)
	}
	if !s.selfSeen || s.self == nil || s.name.bad || s.id.bad || s.typ.bad || !s.objSeen {
		return Entry{}, false
	}
	self := Self{Name: s.name.val, ID: s.id.val, Type: s.typ.val}
	if self.Type == "" || self.Name == "" && !Singleton(self.Type) {
		return Entry{}, false
	}
	obj := compact[s.objStart:s.objEnd:s.objEnd]
	if len(obj) == 0 || obj[0] != '{' {
		return Entry{}, false
	}
	k := Key{Type: self.Type, Name: self.Name}
	if label, ok := singletons[self.Type]; ok {
		k.Name = label
	} else {
		switch self.Type {
		case "SOURCE":
			if !s.objName.bad && s.objName.val != "" {
				k.Name = s.objName.val
			}
		case "LIFECYCLE_STATE":
			if !s.refBad && !s.refName.bad {
				k.Scope = s.refName.val
			}
		}
	}
	return newEntry(compact, self, s.objStart, s.objEnd-s.objStart, k, s.jwsH || s.jwsS), true
}

// opos is the output position of source position i (i at or after last).
func (s *entryScan) opos(i int) int { return i - s.removed }

func (s *entryScan) skipSpace() {
	start := s.i
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		return
	}
	if s.out == nil {
		s.out = make([]byte, 0, len(s.src))
	}
	s.out = append(s.out, s.src[s.last:start]...)
	s.removed += s.i - start
	s.last = s.i
}

// value scans one value at s.i (no leading space).
func (s *entryScan) value(ctx scanCtx, depth int) bool {
	if s.i >= len(s.src) {
		return false
	}
	switch c := s.src[s.i]; {
	case c == '{':
		return s.object(ctx, depth+1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return false
}

func (s *entryScan) lit(w string) bool {
	if len(s.src)-s.i < len(w) || string(s.src[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

func (s *entryScan) digits() int {
	n := 0
	for s.i < len(s.src) && s.src[s.i] >= '0' && s.src[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *entryScan) number() bool {
	if s.src[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.src) {
		return false
	}
	if s.src[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return false
	}
	if s.i < len(s.src) && s.src[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.src) && (s.src[s.i] == 'e' || s.src[s.i] == 'E') {
		s.i++
		if s.i < len(s.src) && (s.src[s.i] == '+' || s.src[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// str scans a string at s.i and returns its source bytes including quotes.
func (s *entryScan) str() (tok []byte, ok bool) {
	start := s.i
	s.i++
	for s.i < len(s.src) {
		// eight bytes at a time while none is a quote, a backslash or a
		// control character (issue 18: most of an export is string bytes)
		for s.i+8 <= len(s.src) && plainString8(binary.LittleEndian.Uint64(s.src[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.src) {
			break
		}
		c := s.src[s.i]
		switch {
		case c == '"':
			s.i++
			return s.src[start:s.i], true
		case c == '\\':
			if s.i+1 >= len(s.src) {
				return nil, false
			}
			switch s.src[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.src) {
					return nil, false
				}
				for _, h := range s.src[s.i+2 : s.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false
					}
				}
				s.i += 6
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		default:
			s.i++
		}
	}
	return nil, false
}

// plainString8 reports whether none of the eight bytes of x is '"', '\\'
// or below 0x20 (SWAR: a byte is zero, or below n <= 128, exactly when the
// high bit of its lane survives the subtraction).
func plainString8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	below20 := (x - 0x20*ones) &^ x & highs
	return below20|zero(x^('"'*ones))|zero(x^('\\'*ones)) == 0
}

// plainKey reports whether a key token can be compared byte for byte: no
// escapes and ASCII only (encoding/json folds Unicode case when matching).
func plainKey(tok []byte) bool {
	for _, c := range tok[1 : len(tok)-1] {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiFold reports whether a and b are equal under ASCII case folding.
func asciiFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// fieldsOf are the keys the fast path looks at in each context.
var fieldsOf = [...][]string{
	ctxTop:    {"self", "object", "jwsHeader", "jwsSignature"},
	ctxSelf:   {"name", "id", "type"},
	ctxObject: {"name", "identityProfileRef"},
	ctxRef:    {"name"},
}

// field returns the index of key in the context's fields, -1 for another
// key, or ok=false when encoding/json might match it differently.
func field(ctx scanCtx, tok []byte) (int, bool) {
	fs := fieldsOf[ctx]
	if len(fs) == 0 {
		return -1, true
	}
	if !plainKey(tok) {
		return -1, false
	}
	k := tok[1 : len(tok)-1]
	for i, f := range fs {
		if string(k) == f {
			return i, true
		}
		if asciiFold(k, f) {
			return -1, false
		}
	}
	return -1, true
}

// strValue scans a value that encoding/json would decode into a string field.
func (s *entryScan) strValue(f *strField) bool {
	if f.seen {
		return false // duplicate key: let encoding/json decide
	}
	f.seen = true
	if s.i >= len(s.src) {
		return false
	}
	switch s.src[s.i] {
	case '"':
		tok, ok := s.str()
		if !ok {
			return false
		}
		if plainKey(tok) {
			v := tok[1 : len(tok)-1]
			f.val = ""
			if f == &s.typ {
				f.val = typeNames[string(v)] // one string per type, not one per entry
			}
			if f.val == "" {
				f.val = string(v)
			}
		} else if json.Unmarshal(tok, &f.val) != nil {
			return false
		}
		return true
	case 'n':
		return s.lit("null")
	}
	f.bad = true
	return s.value(ctxNone, 0)
}

func (s *entryScan) object(ctx scanCtx, depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++ // '{'
	s.skipSpace()
	if s.i < len(s.src) && s.src[s.i] == '}' {
		s.i++
		return true
	}
	// The keys seen so far, to refuse a duplicate (issue 19): compared as
	// bytes, so an escaped key goes to the reference path, which decodes it.
	var small [32][]byte
	keys := small[:0]
	var many map[string]struct{}
	for {
		if s.i >= len(s.src) || s.src[s.i] != '"' {
			return false
		}
		tok, ok := s.str()
		if !ok {
			return false
		}
		if bytes.IndexByte(tok, '\\') >= 0 {
			return false
		}
		switch {
		case many != nil:
			if _, dup := many[string(tok)]; dup {
				return false
			}
			many[string(tok)] = struct{}{}
		case len(keys) < len(small):
			for _, k := range keys {
				if bytes.Equal(k, tok) {
					return false
				}
			}
			keys = append(keys, tok)
		default:
			many = make(map[string]struct{}, 2*len(keys))
			for _, k := range keys {
				many[string(k)] = struct{}{}
			}
			if _, dup := many[string(tok)]; dup {
				return false
			}
			many[string(tok)] = struct{}{}
		}
		fi, ok := field(ctx, tok)
		if !ok {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.src) || s.src[s.i] != ':' {
			return false
		}
		s.i++
		s.skipSpace()
		if !s.member(ctx, fi, depth) {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.src) {
			return false
		}
		switch s.src[s.i] {
		case ',':
			s.i++
			s.skipSpace()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// member scans the value of field fi of an object in context ctx.
func (s *entryScan) member(ctx scanCtx, fi int, depth int) bool {
	if fi < 0 || s.i >= len(s.src) {
		return s.value(ctxNone, depth)
	}
	c := s.src[s.i]
	switch ctx {
	case ctxTop:
		switch fi {
		case 0: // self
			if s.selfSeen {
				return false
			}
			s.selfSeen = true
			if c != '{' {
				return false // null or another type: encoding/json reports it
			}
			s.self = &Self{}
			return s.object(ctxSelf, depth+1)
		case 1: // object
			if s.objSeen {
				return false
			}
			s.objSeen = true
			if c != '{' {
				return false
			}
			s.objStart = s.opos(s.i)
			if !s.object(ctxObject, depth+1) {
				return false
			}
			s.objEnd = s.opos(s.i)
			return true
		case 2, 3: // jwsHeader, jwsSignature
			seen, set := &s.jwsHSeen, &s.jwsH
			if fi == 3 {
				seen, set = &s.jwsSSeen, &s.jwsS
			}
			if *seen {
				return false
			}
			*seen = true
			if c == 'n' {
				return s.lit("null")
			}
			if c != '"' {
				return false
			}
			*set = true
			_, ok := s.str()
			return ok
		}
	case ctxSelf:
		return s.strValue([]*strField{&s.name, &s.id, &s.typ}[fi])
	case ctxObject:
		switch fi {
		case 0:
			return s.strValue(&s.objName)
		case 1:
			if s.refSeen {
				return false
			}
			s.refSeen = true
			switch c {
			case '{':
				return s.object(ctxRef, depth+1)
			case 'n':
				return s.lit("null")
			}
			s.refBad = true
			return s.value(ctxNone, depth)
		}
	case ctxRef:
		return s.strValue(&s.refName)
	}
	return s.value(ctxNone, depth)
}

func (s *entryScan) array(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++ // '['
	s.skipSpace()
	if s.i < len(s.src) && s.src[s.i] == ']' {
		s.i++
		return true
	}
	for {
		if !s.value(ctxNone, depth) {
			return false
		}
		s.skipSpace()
		if s.i >= len(s.src) {
			return false
		}
		switch s.src[s.i] {
		case ',':
			s.i++
			s.skipSpace()
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}
