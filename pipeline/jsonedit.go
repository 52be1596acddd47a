package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
)

// This file edits raw JSON in place: it finds the byte span of the value at a
// path and splices it, so every other byte (key order, number literals, string
// escapes) stays exactly as exported.

var errJSONSyntax = errors.New("invalid JSON")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errJSONSyntax
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				j, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = j
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errJSONSyntax
	default:
		j := i
		for j < len(b) && !bytes.ContainsRune([]byte(",}] \n\t\r"), rune(b[j])) {
			j++
		}
		if j == i {
			return 0, errJSONSyntax
		}
		return j, nil
	}
}

func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errJSONSyntax
}

// member is one key/value of an object, as byte offsets into the document.
type member struct {
	key              string
	start            int // start of the key string
	valStart, valEnd int
}

// members lists an object's members; b[i] must be '{'.
func members(b []byte, i int) ([]member, int, error) {
	if b[i] != '{' {
		return nil, 0, errJSONSyntax
	}
	var ms []member
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, i + 1, nil
	}
	for i < len(b) {
		i = skipSpace(b, i)
		ks := i
		ke, err := skipString(b, i)
		if err != nil {
			return nil, 0, err
		}
		var key string
		if err := json.Unmarshal(b[ks:ke], &key); err != nil {
			return nil, 0, errJSONSyntax
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, errJSONSyntax
		}
		vs := skipSpace(b, i+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return nil, 0, err
		}
		ms = append(ms, member{key: key, start: ks, valStart: vs, valEnd: ve})
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return ms, i + 1, nil
		}
		return nil, 0, errJSONSyntax
	}
	return nil, 0, errJSONSyntax
}

// elementSpan finds element n of the array starting at b[i].
func elementSpan(b []byte, i, n int) (int, int, bool, error) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, 0, false, nil
	}
	for k := 0; i < len(b); k++ {
		vs := skipSpace(b, i)
		ve, err := skipValue(b, vs)
		if err != nil {
			return 0, 0, false, err
		}
		if k == n {
			return vs, ve, true, nil
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		return 0, 0, false, nil
	}
	return 0, 0, false, errJSONSyntax
}

// locate returns the span of the value at segs, and for an object member also
// the member (so it can be deleted). ok is false when the path does not exist.
func locate(doc []byte, segs []PathSegment) (start, end int, parent []member, idx int, ok bool, err error) {
	start, end = skipSpace(doc, 0), len(doc)
	idx = -1
	for _, s := range segs {
		if start >= len(doc) {
			return 0, 0, nil, -1, false, errJSONSyntax
		}
		if s.IsIndex {
			if doc[start] != '[' {
				return 0, 0, nil, -1, false, nil
			}
			vs, ve, found, err := elementSpan(doc, start, s.Index)
			if err != nil || !found {
				return 0, 0, nil, -1, false, err
			}
			start, end, parent, idx = vs, ve, nil, -1
			continue
		}
		if doc[start] != '{' {
			return 0, 0, nil, -1, false, nil
		}
		ms, _, err := members(doc, start)
		if err != nil {
			return 0, 0, nil, -1, false, err
		}
		found := false
		for k, m := range ms {
			if m.key == s.Key {
				start, end, parent, idx, found = m.valStart, m.valEnd, ms, k, true
				break
			}
		}
		if !found {
			return 0, 0, nil, -1, false, nil
		}
	}
	return start, end, parent, idx, true, nil
}

// getJSONPath returns the raw value at path, or ok false.
func getJSONPath(doc []byte, segs []PathSegment) (json.RawMessage, bool, error) {
	s, e, _, _, ok, err := locate(doc, segs)
	if err != nil || !ok {
		return nil, ok, err
	}
	return doc[s:e], true, nil
}

// replaceJSONPath replaces the value at path with val (raw JSON).
func replaceJSONPath(doc []byte, segs []PathSegment, val []byte) ([]byte, bool, error) {
	s, e, _, _, ok, err := locate(doc, segs)
	if err != nil || !ok {
		return doc, false, err
	}
	out := make([]byte, 0, len(doc)-(e-s)+len(val))
	out = append(out, doc[:s]...)
	out = append(out, val...)
	out = append(out, doc[e:]...)
	return out, true, nil
}

// deleteJSONPath removes the object member at path; array elements are not
// removed (positions carry meaning).
func deleteJSONPath(doc []byte, segs []PathSegment) ([]byte, bool, error) {
	_, _, parent, idx, ok, err := locate(doc, segs)
	if err != nil || !ok || parent == nil {
		return doc, false, err
	}
	m := parent[idx]
	from, to := m.start, m.valEnd
	switch {
	case idx+1 < len(parent): // remove through the next member's start
		to = parent[idx+1].start
	case idx > 0: // last member: remove from the previous value's end
		from = parent[idx-1].valEnd
	}
	out := make([]byte, 0, len(doc)-(to-from))
	out = append(out, doc[:from]...)
	out = append(out, doc[to:]...)
	return out, true, nil
}
