package spconfigtest

import (
	"bytes"
	"encoding/json"
	"strconv"

	"promoter/jsonspan"
)

// The fake finds and replaces single values (a reference's id, an object's
// id) through jsonspan, without re-encoding anything else: key order, escapes
// and number literals such as 10.0 stay exactly as they were.

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
	idNode         *jsonspan.Node
	nameNode       *jsonspan.Node
}

// findRefs walks the object tree (skipping the root itself, whose "type" is the
// object's own kind) and returns every {type, id, name} object whose type is a
// reference type.
func findRefs(b []byte, root *jsonspan.Node, isRefType func(string) bool) []ref {
	var out []ref
	var walk func(n *jsonspan.Node, path string, isRoot bool)
	walk = func(n *jsonspan.Node, path string, isRoot bool) {
		switch n.Kind {
		case jsonspan.Object:
			if !isRoot {
				t, okT := n.Get("type").Str(b)
				id, okI := n.Get("id").Str(b)
				name, okN := n.Get("name").Str(b)
				if okT && okI && okN && isRefType(t) {
					out = append(out, ref{Type: t, ID: id, Name: name, Path: path, idNode: n.Get("id"), nameNode: n.Get("name")})
					return
				}
			}
			for i, k := range n.Keys {
				walk(n.Vals[i], path+jsonPathKey(k), false)
			}
		case jsonspan.Array:
			for _, v := range n.Vals {
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
	idNode   *jsonspan.Node
}

// findSourceIDs returns every object member pair sourceName/sourceId (both
// strings) below root.
func findSourceIDs(b []byte, root *jsonspan.Node) []sourceIDRef {
	var out []sourceIDRef
	var walk func(n *jsonspan.Node)
	walk = func(n *jsonspan.Node) {
		if n == nil {
			return
		}
		if n.Kind == jsonspan.Object {
			name, okN := n.Get("sourceName").Str(b)
			id, okI := n.Get("sourceId").Str(b)
			if okN && okI {
				out = append(out, sourceIDRef{Name: name, ID: id, idNode: n.Get("sourceId")})
			}
		}
		for _, v := range n.Vals {
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
