package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Strict YAML decoding with line numbers: unknown keys, wrong kinds and
// duplicate keys are problems naming the line; a near miss suggests the key.

// secondDocument returns the line of a second YAML document, or 0.
func secondDocument(data []byte) int {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var first, second yaml.Node
	if dec.Decode(&first) != nil {
		return 0
	}
	if err := dec.Decode(&second); err != nil {
		return 0
	}
	if second.Line > 0 {
		return second.Line
	}
	return 1
}

var (
	yamlLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// yamlProblem turns a yaml.v3 syntax error into a problem with its line.
// yaml.v3 reports parser errors with a 0-based line and omits "line 0", so
// the line is corrected here; errors without a position are located in data.
func yamlProblem(err error, data []byte) Problem {
	const hint = " (check indentation, quoting and brackets)"
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if isParserProblem(m[2]) {
			n++
			// yaml.v3 reports a parser problem at the start of the enclosing
			// block (its context mark); name the problem's own line too.
			if p := problemLine(data, n, m[2]); p > n {
				return Problem{Line: p, Msg: fmt.Sprintf("YAML syntax: %s (in the block that starts at line %d)%s", m[2], n, hint)}
			}
		}
		return Problem{Line: n, Msg: "YAML syntax: " + m[2] + hint}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 1
	switch {
	case yamlAnchor.MatchString(err.Error()):
		name := yamlAnchor.FindStringSubmatch(err.Error())[1]
		line = lineOf(data, strings.Index(string(data), "*"+name))
		msg = fmt.Sprintf("alias *%s refers to an anchor &%s that is not defined before it", name, name)
		return Problem{Line: line, Msg: "YAML: " + msg}
	case strings.Contains(msg, "control characters"):
		line = lineOf(data, strings.IndexFunc(string(data), func(r rune) bool {
			return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f && r != 0x85)
		}))
	case strings.Contains(msg, "UTF-8") || strings.Contains(msg, "Unicode"):
		line = lineOf(data, invalidUTF8(data))
	}
	return Problem{Line: line, Msg: "YAML syntax: " + msg + hint}
}

// problemLine finds the line of a parser problem reported at line from (the
// start of its block): the first line from there whose addition makes a
// parsable prefix of the document fail with the same message. 0 when there
// is none (the problem spans lines, as an unclosed bracket does).
func problemLine(data []byte, from int, msg string) int {
	lines := strings.SplitAfter(string(data), "\n")
	parses := func(n int) (bool, string) {
		var node yaml.Node
		if err := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &node); err != nil {
			return false, err.Error()
		}
		return true, ""
	}
	prevOK, _ := parses(max(from-1, 0))
	for n := max(from, 1); n <= len(lines) && n < from+2000; n++ {
		ok, errMsg := parses(n)
		if prevOK && !ok && strings.HasSuffix(errMsg, msg) {
			return n
		}
		prevOK = ok
	}
	return 0
}

func isParserProblem(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// lineOf returns the 1-based line of byte offset off (0 when off < 0).
func lineOf(data []byte, off int) int {
	if off < 0 || off > len(data) {
		return 0
	}
	return 1 + strings.Count(string(data[:off]), "\n")
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 {
			li = 1 << 30
		}
		if lj == 0 {
			lj = 1 << 30
		}
		return li < lj
	})
}

// decoder decodes a yaml.Node tree into the config structs by reflection,
// recording the line of every key and a problem for every unknown key,
// duplicate key and wrong type, instead of stopping at the first.
type decoder struct {
	lines    map[string]int
	problems []Problem
	bad      []string // paths with a decoding problem (their validation problems are redundant)
	nodes    int
	tooBig   bool
}

const (
	maxDepth = 50
	maxNodes = 200000 // bounds alias expansion ("billion laughs")
)

func (d *decoder) fail(n *yaml.Node, path, msg string) {
	d.problems = append(d.problems, Problem{Line: n.Line, Path: path, Msg: msg})
	d.bad = append(d.bad, path)
}

// covered reports whether a validation problem at path repeats a decoding problem.
func (d *decoder) covered(path string) bool {
	for _, b := range d.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	durationType = reflect.TypeFor[Duration]()
	kindNames    = map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value", yaml.DocumentNode: "a document", yaml.AliasNode: "an alias"}
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	d.nodes++
	if d.nodes > maxNodes || depth > maxDepth {
		if !d.tooBig {
			d.tooBig = true
			d.fail(n, path, "the document is nested too deeply or expands too many aliases; simplify it")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "alias to an unknown anchor")
			return
		}
		d.decode(n.Alias, v, path, depth+1)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // key present without a value: keep the zero value (and defaults)
	}
	if v.Type() == durationType {
		var dur Duration
		if err := dur.UnmarshalYAML(n); err != nil {
			d.fail(n, path, err.Error())
			return
		}
		v.Set(reflect.ValueOf(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path, depth)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, fmt.Sprintf("must be a mapping of keys (%s), not %s", strings.Join(yamlKeys(v.Type()), ", "), kindNames[n.Kind]))
			return
		}
		fields := map[string]int{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" && f.IsExported() {
				fields[tag] = i
			}
		}
		d.mapping(n, path, depth, func(k, val *yaml.Node) {
			key := k.Value
			i, ok := fields[key]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", key)
				if s := Suggest(key, yamlKeys(v.Type())); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; valid keys here: " + strings.Join(yamlKeys(v.Type()), ", ")
				}
				d.problems = append(d.problems, Problem{Line: k.Line, Path: join(path, key), Msg: msg})
				return
			}
			p := join(path, key)
			d.lines[p] = k.Line
			d.decode(val, v.Field(i), p, depth+1)
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, fmt.Sprintf("must be a mapping of names to settings, not %s", kindNames[n.Kind]))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.mapping(n, path, depth, func(k, val *yaml.Node) {
			p := join(path, k.Value)
			d.lines[p] = k.Line
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, p, depth+1)
			v.SetMapIndex(reflect.ValueOf(k.Value), ev)
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, fmt.Sprintf("must be a list, not %s", kindNames[n.Kind]))
			return
		}
		s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(item, ev, p, depth+1)
			s = reflect.Append(s, ev)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, fmt.Sprintf("must be a single value (a string), not %s", kindNames[n.Kind]))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, fmt.Sprintf("must be a whole number, not %s", kindNames[n.Kind]))
			return
		}
		var x int
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, fmt.Sprintf("must be a whole number, not %q", n.Value))
			return
		}
		v.SetInt(int64(x))
	case reflect.Bool:
		var x bool
		if n.Kind != yaml.ScalarNode || n.Decode(&x) != nil {
			d.fail(n, path, fmt.Sprintf("must be true or false, not %q", n.Value))
			return
		}
		v.SetBool(x)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, fmt.Sprintf("must be a number, not %s", kindNames[n.Kind]))
			return
		}
		var x float64
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, fmt.Sprintf("must be a number, not %q", n.Value))
			return
		}
		v.SetFloat(x)
	default:
		d.fail(n, path, "cannot be decoded (internal: unsupported field type "+v.Type().String()+")")
	}
}

type keyValue struct{ k, v *yaml.Node }

// mapping calls fn for every key of a mapping node, in order, after the keys
// merged in with "<<" (explicit keys win). Duplicate keys are problems.
func (d *decoder) mapping(n *yaml.Node, path string, depth int, fn func(k, v *yaml.Node)) {
	var explicit, merged []keyValue
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key must be a plain name, not "+kindNames[k.Kind])
			continue
		}
		if k.Tag == "!!merge" {
			merged = append(merged, d.mergeSources(v, path, depth)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.problems = append(d.problems, Problem{Line: k.Line, Path: join(path, k.Value),
				Msg: fmt.Sprintf("key %q is already defined at line %d; keep one of them", k.Value, first)})
			continue
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, keyValue{k, v})
	}
	for _, m := range merged {
		if _, ok := seen[m.k.Value]; !ok {
			seen[m.k.Value] = m.k.Line
			fn(m.k, m.v)
		}
	}
	for _, e := range explicit {
		fn(e.k, e.v)
	}
}

// mergeSources returns the key/value pairs a "<<" merge brings in.
func (d *decoder) mergeSources(v *yaml.Node, path string, depth int) []keyValue {
	var out []keyValue
	var add func(n *yaml.Node, depth int)
	add = func(n *yaml.Node, depth int) {
		d.nodes++
		if depth > maxDepth || d.nodes > maxNodes {
			return
		}
		switch {
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			add(n.Alias, depth+1)
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Tag != "!!merge" {
					out = append(out, keyValue{n.Content[i], n.Content[i+1]})
				}
			}
		case n.Kind == yaml.SequenceNode && depth == 0:
			for _, c := range n.Content {
				add(c, depth+1)
			}
		default:
			d.fail(n, path, "<< must merge a mapping (an alias such as *defaults) or a list of them")
		}
	}
	add(v, 0)
	return out
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := f.Tag.Get("yaml"); tag != "" && tag != "-" && f.IsExported() {
			keys = append(keys, tag)
		}
	}
	return keys
}

// Suggest returns the known key closest to key (case-insensitive equal or
// at most two edits away), or "".
func Suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k
		}
		if len(key) >= 4 && strings.HasPrefix(strings.ToLower(k), strings.ToLower(key)) && bestD > 0 {
			best, bestD = k, 0
			continue
		}
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// has reports whether the file set the key at path.
func (c *Config) has(path string) bool { _, ok := c.lines[path]; return ok }
