// Package jsonspan locates JSON values in a document by their byte spans, so
// a value can be read, replaced or deleted, and a document walked, without
// re-encoding anything else: key order, string escapes and number literals
// such as 10.0 stay exactly as they were.
//
// It serves the paths where a clear walker matters more than speed: mappings
// and strip rules (pipeline), the secret scan, and the fake tenant's reference
// rewriting. The measured one-pass scanners of spconfig stay where they are.
package jsonspan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// ErrSyntax is returned for a document that is not JSON where it was read.
var ErrSyntax = errors.New("invalid JSON")

// maxDepth bounds nesting as encoding/json does.
const maxDepth = 10000

// Kind is the kind of a JSON value.
type Kind byte

// The kinds of JSON values.
const (
	Object Kind = '{'
	Array  Kind = '['
	String Kind = '"'
	Number Kind = 'n'
	True   Kind = 't'
	False  Kind = 'f'
	Null   Kind = 'z'
)

// Node is one JSON value, located by its span b[Start:End] in the document
// it was read from.
type Node struct {
	Start, End int
	Kind       Kind
	// Keys are an object's member keys (decoded), KeyStarts the offsets of
	// their opening quotes; Vals are the member values or array elements.
	// A node read by Find has its children's spans but not their children.
	Keys      []string
	KeyStarts []int
	Vals      []*Node
}

// Get returns the value of an object's member key (the first, if repeated),
// or nil when n is nil, not an object or has no such member.
func (n *Node) Get(key string) *Node {
	if i := n.member(key); i >= 0 {
		return n.Vals[i]
	}
	return nil
}

func (n *Node) member(key string) int {
	if n == nil || n.Kind != Object {
		return -1
	}
	for i, k := range n.Keys {
		if k == key {
			return i
		}
	}
	return -1
}

// Str decodes a string node of document b; ok is false for other kinds.
func (n *Node) Str(b []byte) (string, bool) {
	if n == nil || n.Kind != String {
		return "", false
	}
	return decodeString(b[n.Start:n.End])
}

// Parse reads one JSON document (surrounding space allowed) into a tree of
// spans. It fails exactly when encoding/json would (json.Valid).
func Parse(b []byte) (*Node, error) {
	if !json.Valid(b) { // the span parser below trusts the grammar's corners
		return nil, errors.New("json: not valid JSON")
	}
	p := &parser{b: b}
	n, err := p.value(0, -1)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(b) {
		return nil, fmt.Errorf("json: trailing data at offset %d", p.i)
	}
	return n, nil
}

// Segment is one step of a path: an object member's key or an array index.
type Segment struct {
	Key     string
	Index   int
	IsIndex bool
}

// Find returns the value at path in document b, and for an object member
// also its object and position (so it can be deleted); n is nil when the
// path does not exist. It reads only the containers along the path, so the
// rest of the document is skipped rather than checked in every detail.
func Find(b []byte, path []Segment) (n, parent *Node, idx int, err error) {
	p := &parser{b: b}
	n, err = p.value(0, 1)
	if err != nil {
		return nil, nil, -1, err
	}
	idx = -1
	for i, s := range path {
		var next *Node
		if s.IsIndex {
			if n.Kind != Array || s.Index < 0 || s.Index >= len(n.Vals) {
				return nil, nil, -1, nil
			}
			next, parent, idx = n.Vals[s.Index], nil, -1
		} else {
			i := n.member(s.Key)
			if i < 0 {
				return nil, nil, -1, nil
			}
			next, parent, idx = n.Vals[i], n, i
		}
		if i+1 < len(path) && (next.Kind == Object || next.Kind == Array) {
			p.i = next.Start
			if next, err = p.value(0, 1); err != nil {
				return nil, nil, -1, err
			}
		}
		n = next
	}
	return n, parent, idx, nil
}

// Get returns the raw value at path, or ok false when it does not exist.
func Get(b []byte, path []Segment) (raw json.RawMessage, ok bool, err error) {
	n, _, _, err := Find(b, path)
	if err != nil || n == nil {
		return nil, false, err
	}
	return b[n.Start:n.End], true, nil
}

// Replace returns a copy of b with the value at path replaced by val (raw
// JSON); ok is false (and b returned) when the path does not exist.
func Replace(b []byte, path []Segment, val []byte) ([]byte, bool, error) {
	n, _, _, err := Find(b, path)
	if err != nil || n == nil {
		return b, false, err
	}
	return Apply(b, []Edit{{n.Start, n.End, val}}), true, nil
}

// Delete returns a copy of b without the object member at path, with its
// separating comma; array elements are not removed (positions carry
// meaning), ok is false for them and for a path that does not exist.
func Delete(b []byte, path []Segment) ([]byte, bool, error) {
	_, parent, idx, err := Find(b, path)
	if err != nil || parent == nil {
		return b, false, err
	}
	from, to := parent.KeyStarts[idx], parent.Vals[idx].End
	switch {
	case idx+1 < len(parent.Keys): // remove through the next member's key
		to = parent.KeyStarts[idx+1]
	case idx > 0: // last member: remove from the previous value's end
		from = parent.Vals[idx-1].End
	}
	return Apply(b, []Edit{{from, to, nil}}), true, nil
}

// Walk calls fn for n and every value below it in document order, with the
// path from n; fn returns false to skip a value's children. The path slice is
// reused between calls: copy it to keep it.
func Walk(n *Node, fn func(path []Segment, n *Node) bool) {
	var walk func(path []Segment, n *Node)
	walk = func(path []Segment, n *Node) {
		if !fn(path, n) {
			return
		}
		for i, v := range n.Vals {
			s := Segment{Index: i, IsIndex: true}
			if n.Kind == Object {
				s = Segment{Key: n.Keys[i]}
			}
			walk(append(path, s), v)
		}
	}
	walk(nil, n)
}

// Edit replaces b[Start:End] with Repl.
type Edit struct {
	Start, End int
	Repl       []byte
}

// Apply returns a copy of b with the edits applied in order of their start;
// of overlapping edits the first wins.
func Apply(b []byte, edits []Edit) []byte {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].Start < edits[j].Start })
	var out bytes.Buffer
	out.Grow(len(b))
	pos := 0
	for _, e := range edits {
		if e.Start < pos {
			continue
		}
		out.Write(b[pos:e.Start])
		out.Write(e.Repl)
		pos = e.End
	}
	out.Write(b[pos:])
	return out.Bytes()
}

// parser reads values by recursive descent.
type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

// next reads what follows a member or an element: a comma (done false) or
// the closing byte of its object or array (done true).
func (p *parser) next(closing byte) (done bool, err error) {
	p.ws()
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case ',':
			p.i++
			return false, nil
		case closing:
			p.i++
			return true, nil
		}
	}
	return false, ErrSyntax
}

// skip is the levels of a value read without building a node.
const skip = -2

// value reads the value at p.i (after space). levels is how many levels
// below the value to build: -1 all, 0 none (its node only), 1 the direct
// children's spans, and so on; with levels skip it builds nothing and
// returns a nil node.
func (p *parser) value(depth, levels int) (*Node, error) {
	if depth > maxDepth {
		return nil, errors.New("json: nested too deeply")
	}
	p.ws()
	if p.i >= len(p.b) {
		return nil, ErrSyntax
	}
	start := p.i
	var n *Node
	if levels != skip {
		n = &Node{Start: start}
	}
	child := levels
	switch {
	case levels == 0:
		child = skip
	case levels > 0:
		child = levels - 1
	}
	var kind Kind
	switch c := p.b[p.i]; {
	case c == '{':
		kind = Object
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			break
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, fmt.Errorf("json: object key expected at offset %d", p.i)
			}
			ks := p.i
			if err := p.str(); err != nil {
				return nil, err
			}
			var key string
			if n != nil {
				k, ok := decodeString(p.b[ks:p.i])
				if !ok {
					return nil, ErrSyntax
				}
				key = k
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, ErrSyntax
			}
			p.i++
			v, err := p.value(depth+1, child)
			if err != nil {
				return nil, err
			}
			if n != nil {
				n.Keys = append(n.Keys, key)
				n.KeyStarts = append(n.KeyStarts, ks)
				n.Vals = append(n.Vals, v)
			}
			done, err := p.next('}')
			if err != nil {
				return nil, err
			}
			if done {
				break
			}
		}
	case c == '[':
		kind = Array
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			break
		}
		for {
			v, err := p.value(depth+1, child)
			if err != nil {
				return nil, err
			}
			if n != nil {
				n.Vals = append(n.Vals, v)
			}
			done, err := p.next(']')
			if err != nil {
				return nil, err
			}
			if done {
				break
			}
		}
	case c == '"':
		kind = String
		if err := p.str(); err != nil {
			return nil, err
		}
	case c == 't' || c == 'f' || c == 'n':
		lit, k := "true", True
		switch c {
		case 'f':
			lit, k = "false", False
		case 'n':
			lit, k = "null", Null
		}
		if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
			return nil, ErrSyntax
		}
		kind = k
		p.i += len(lit)
	case c == '-' || (c >= '0' && c <= '9'):
		kind = Number
		for p.i < len(p.b) && bytes.IndexByte([]byte("+-0123456789.eE"), p.b[p.i]) >= 0 {
			p.i++
		}
	default:
		return nil, fmt.Errorf("json: unexpected %q at offset %d", c, p.i)
	}
	if n == nil {
		return nil, nil
	}
	n.Kind, n.End = kind, p.i
	return n, nil
}

// str skips the string whose opening quote is at p.i.
func (p *parser) str() error {
	for j := p.i + 1; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			j++
		case '"':
			p.i = j + 1
			return nil
		}
	}
	return ErrSyntax
}

// decodeString decodes a JSON string literal (quotes included).
func decodeString(lit []byte) (string, bool) {
	if len(lit) >= 2 && bytes.IndexByte(lit, '\\') < 0 {
		inner := lit[1 : len(lit)-1]
		plain := true
		for _, c := range inner {
			if c < 0x20 || c >= 0x80 {
				plain = false // control characters are invalid; non-ASCII may be invalid UTF-8
				break
			}
		}
		if plain {
			return string(inner), true
		}
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return "", false
	}
	return s, true
}
