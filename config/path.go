package config

import (
	"fmt"
	"strconv"
	"strings"

	"promoter/jsonspan"
)

// JSON paths of mappings and strip rules ($.a.b[0]).

// PathSegment is one step of a JSON path: an object key or an array index.
type PathSegment = jsonspan.Segment

// ParsePath parses the JSON path subset used by mappings and strip rules:
// $.a.b, $.a[0].b, $['key with space'], $["key"]. The path is relative to
// the exported object (the entry's "object").
func ParsePath(p string) ([]PathSegment, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("JSON path %q must start with $ (e.g. $.connectorAttributes.host)", p)
	}
	var segs []PathSegment
	s := p[1:]
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			key := s[:end]
			if key == "" {
				return nil, fmt.Errorf("JSON path %q has an empty key (two dots, or a dot at the end)", p)
			}
			if strings.ContainsAny(key, " \t]'\"*") {
				return nil, fmt.Errorf("JSON path %q: key %q needs the bracket form $['%s'] (wildcards are not supported)", p, key, key)
			}
			segs = append(segs, PathSegment{Key: key})
			s = s[end:]
		case '[':
			if len(s) > 1 && (s[1] == '\'' || s[1] == '"') {
				q := s[1]
				end := strings.IndexByte(s[2:], q)
				if end < 0 || len(s) < end+4 || s[end+3] != ']' {
					return nil, fmt.Errorf("JSON path %q: unterminated quoted key; write $['key']", p)
				}
				key := s[2 : 2+end]
				if strings.ContainsRune(key, ']') {
					return nil, fmt.Errorf("JSON path %q: a key may not contain ]", p)
				}
				segs = append(segs, PathSegment{Key: key})
				s = s[end+4:]
				continue
			}
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("JSON path %q: missing ]", p)
			}
			inner := s[1:end]
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 || strings.HasPrefix(inner, "+") {
				return nil, fmt.Errorf("JSON path %q: [%s] is neither an array index ([0]) nor a quoted key (['key']); wildcards are not supported", p, inner)
			}
			segs = append(segs, PathSegment{Index: n, IsIndex: true})
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("JSON path %q: unexpected %q after %q; use .key, [0] or ['key']", p, s[0], p[:len(p)-len(s)])
		}
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("JSON path %q names the whole object; name a field inside it, e.g. $.description", p)
	}
	return segs, nil
}

// FormatPath writes segments in the syntax ParsePath reads: $.key for plain
// keys, $['key'] for keys that need quoting, [0] for indexes.
func FormatPath(segs []PathSegment) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range segs {
		switch {
		case s.IsIndex:
			fmt.Fprintf(&b, "[%d]", s.Index)
		case s.Key != "" && !strings.ContainsAny(s.Key, ".[] \t'\"*"):
			b.WriteString("." + s.Key)
		case !strings.Contains(s.Key, "'"):
			b.WriteString("['" + s.Key + "']")
		default:
			b.WriteString(`["` + s.Key + `"]`)
		}
	}
	return b.String()
}
