package spconfigtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// node is one JSON value located in a byte slice by its span, so the fake can
// find and replace single values (a reference's id, an object's id) without
// re-encoding anything else: key order, escapes and number literals such as
// 10.0 stay exactly as they were.
type node struct {
	start, end int
	kind       byte // '{', '[', '"', 'n' (number), 't', 'f', 'z' (null)
	keys       []string
	vals       []*node
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != '{' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// str decodes a string node; ok is false for other kinds.
func (n *node) str(b []byte) (string, bool) {
	if n == nil || n.kind != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(b[n.start:n.end], &s) != nil {
		return "", false
	}
	return s, true
}

type jsonParser struct {
	b []byte
	i int
}

// parseTree parses b (one JSON value) into a span tree.
func parseTree(b []byte) (*node, error) {
	if !json.Valid(b) { // the span parser below trusts the grammar
		return nil, errors.New("json: not valid JSON")
	}
	p := &jsonParser{b: b}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(b) {
		return nil, fmt.Errorf("json: trailing data at offset %d", p.i)
	}
	return n, nil
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

var errJSON = errors.New("json: malformed")

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > 10000 {
		return nil, errors.New("json: nested too deeply")
	}
	p.ws()
	if p.i >= len(p.b) {
		return nil, errJSON
	}
	n := &node{start: p.i}
	switch c := p.b[p.i]; {
	case c == '{':
		n.kind = '{'
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			break
		}
		for {
			p.ws()
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			key, ok := k.str(p.b)
			if !ok {
				return nil, fmt.Errorf("json: object key expected at offset %d", k.start)
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, errJSON
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, key)
			n.vals = append(n.vals, v)
			p.ws()
			if p.i >= len(p.b) {
				return nil, errJSON
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				break
			}
			return nil, errJSON
		}
	case c == '[':
		n.kind = '['
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			break
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
			p.ws()
			if p.i >= len(p.b) {
				return nil, errJSON
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == ']' {
				p.i++
				break
			}
			return nil, errJSON
		}
	case c == '"':
		n.kind = '"'
		p.i++
		for {
			if p.i >= len(p.b) {
				return nil, errJSON
			}
			switch p.b[p.i] {
			case '\\':
				p.i += 2
				continue
			case '"':
				p.i++
			default:
				p.i++
				continue
			}
			break
		}
	case c == 't' || c == 'f' || c == 'n':
		lit := map[byte]string{'t': "true", 'f': "false", 'n': "null"}[c]
		if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
			return nil, errJSON
		}
		n.kind = map[byte]byte{'t': 't', 'f': 'f', 'n': 'z'}[c]
		p.i += len(lit)
	case c == '-' || (c >= '0' && c <= '9'):
		n.kind = 'n'
		for p.i < len(p.b) && bytes.IndexByte([]byte("+-0123456789.eE"), p.b[p.i]) >= 0 {
			p.i++
		}
	default:
		return nil, fmt.Errorf("json: unexpected %q at offset %d", c, p.i)
	}
	n.end = p.i
	return n, nil
}

// edit replaces b[start:end] with repl.
type edit struct {
	start, end int
	repl       []byte
}

// applyEdits returns a copy of b with non-overlapping edits applied.
func applyEdits(b []byte, edits []edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var out bytes.Buffer
	out.Grow(len(b))
	pos := 0
	for _, e := range edits {
		if e.start < pos {
			continue // overlapping edit: the first one wins
		}
		out.Write(b[pos:e.start])
		out.Write(e.repl)
		pos = e.end
	}
	out.Write(b[pos:])
	return out.Bytes()
}

// jsonString encodes s as a JSON string without HTML escaping.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// ref is a {type, id, name} reference found inside an object.
type ref struct {
	Type, ID, Name string
	Path           string // JSONPath with [*] for array positions, e.g. $.schemas[*]
	idNode         *node
	nameNode       *node
}

// findRefs walks the object tree (skipping the root itself, whose "type" is the
// object's own kind) and returns every {type, id, name} object whose type is a
// reference type.
func findRefs(b []byte, root *node, isRefType func(string) bool) []ref {
	var out []ref
	var walk func(n *node, path string, isRoot bool)
	walk = func(n *node, path string, isRoot bool) {
		switch n.kind {
		case '{':
			if !isRoot {
				t, okT := n.get("type").str(b)
				id, okI := n.get("id").str(b)
				name, okN := n.get("name").str(b)
				if okT && okI && okN && isRefType(t) {
					out = append(out, ref{Type: t, ID: id, Name: name, Path: path, idNode: n.get("id"), nameNode: n.get("name")})
					return
				}
			}
			for i, k := range n.keys {
				walk(n.vals[i], path+jsonPathKey(k), false)
			}
		case '[':
			for _, v := range n.vals {
				walk(v, path+"[*]", false)
			}
		}
	}
	walk(root, "$", true)
	return out
}

// sourceIDRef is a bare source id that sits beside the source's name, as in
// identity profile transforms ({"sourceName": "Workday", "sourceId": "..."}).
// A real import resolves it by the name, like a {type, id, name} reference.
type sourceIDRef struct {
	Name, ID string
	idNode   *node
}

// findSourceIDs returns every object member pair sourceName/sourceId (both
// strings) below root.
func findSourceIDs(b []byte, root *node) []sourceIDRef {
	var out []sourceIDRef
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil {
			return
		}
		if n.kind == '{' {
			name, okN := n.get("sourceName").str(b)
			id, okI := n.get("sourceId").str(b)
			if okN && okI {
				out = append(out, sourceIDRef{Name: name, ID: id, idNode: n.get("sourceId")})
			}
		}
		for _, v := range n.vals {
			walk(v)
		}
	}
	walk(root)
	return out
}

func jsonPathKey(k string) string {
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	return "." + k
}
