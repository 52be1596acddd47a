package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"promoter/config"
	"promoter/jsonspan"
	"promoter/spconfig"
)

// The environment-leak guard (DESIGN section 7). After mappings, the import
// payload must not hold what identifies the source tenant: its API host, its
// org name (the export's tenant field), a mapping's from value, or a match
// of gate.leakPatterns. Every hit blocks the gate with the object, the JSON
// path and the value, unless gate.allowLeaks names that object and path.
// The same pass checks that every mapping still applies: a payload object a
// mapping matches whose path holds neither from nor to blocks (the source
// value changed, so the mapping was skipped), unless the mapping is optional.

// Leak is a source-tenant fingerprint found in the import payload.
type Leak struct {
	Object string `json:"object"`
	Path   string `json:"path"`  // JSON path inside the object, as mappings write it
	Value  string `json:"value"` // the string value holding the fingerprint
	Found  string `json:"found"` // the fingerprint itself
	What   string `json:"what"`  // what the fingerprint is, e.g. "the org name of tenant dev"
	Signed bool   `json:"signed,omitempty"`

	key spconfig.Key
}

// MappingMiss is a payload object a mapping matches whose path holds
// neither the mapping's from nor its to.
type MappingMiss struct {
	Object  string `json:"object"`
	Mapping string `json:"mapping"` // where the mapping is: pipelines[0].mappings[1] (line 18)
	Path    string `json:"path"`
	Value   string `json:"value"` // the JSON found at the path; "" when the path is absent
	From    string `json:"from"`
	To      string `json:"to"`
}

// fingerprint is one thing that identifies the source tenant.
type fingerprint struct {
	text string         // a literal, matched at word boundaries
	fold bool           // case-insensitive (host and org names)
	re   *regexp.Regexp // or a pattern
	what string
}

// find returns the first occurrence of the fingerprint in s.
func (f fingerprint) find(s string) (string, bool) {
	if f.re != nil {
		loc := f.re.FindStringIndex(s)
		if loc == nil {
			return "", false
		}
		return s[loc[0]:loc[1]], true
	}
	if i := literalIndex(s, f.text, f.fold); i >= 0 {
		return s[i : i+len(f.text)], true
	}
	return "", false
}

// literalIndex finds lit in s where it is not part of a longer word: a
// letter, digit, '_' or '-' next to it continues the word (acme is not found
// in acme-sb, ad.dev.acme.local is found in ldap://ad.dev.acme.local:389).
func literalIndex(s, lit string, fold bool) int {
	if lit == "" {
		return -1
	}
	hay, needle := s, lit
	if fold {
		hay, needle = strings.ToLower(s), strings.ToLower(lit)
	}
	for off := 0; off <= len(hay)-len(needle); {
		i := strings.Index(hay[off:], needle)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(needle)
		before := i == 0 || !wordByte(needle[0]) || !wordByte(hay[i-1])
		after := end == len(hay) || !wordByte(needle[len(needle)-1]) || !wordByte(hay[end])
		if before && after {
			return i
		}
		off = i + 1
	}
	return -1
}

func wordByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}

// tenantHost is the host of a tenant's baseURL (with the port for a
// loopback host, whose bare address says nothing about the tenant).
func tenantHost(t *config.Tenant) string {
	if t == nil {
		return ""
	}
	u, err := url.Parse(t.BaseURL)
	if err != nil {
		return ""
	}
	if config.IsLoopback(u.Hostname()) {
		return u.Host
	}
	return u.Hostname()
}

// fingerprints lists what identifies the source tenant. A literal that the
// target's own host or org name contains is left out: it could not tell the
// tenants apart (both tenants named acme in a chain of one org).
func (r *Runner) fingerprints(v view, targetOrg string) []fingerprint {
	p := r.Pipeline
	var srcHost, dstHost string
	if r.Config != nil {
		srcHost, dstHost = tenantHost(r.Config.Tenant(p.Source)), tenantHost(r.Config.Tenant(p.Target))
	}
	var out []fingerprint
	add := func(f fingerprint) {
		if f.text == "" {
			return
		}
		for _, own := range []string{dstHost, targetOrg} {
			if literalIndex(own, f.text, true) >= 0 {
				r.log().Debug("leak guard: fingerprint also names the target; not checked", "fingerprint", f.text, "what", f.what)
				return
			}
		}
		out = append(out, f)
	}
	add(fingerprint{text: srcHost, fold: true, what: "the API host of tenant " + p.Source})
	add(fingerprint{text: r.sourceOrg(v), fold: true, what: "the org name of tenant " + p.Source})
	for i, m := range p.Mappings {
		add(fingerprint{text: m.From, what: "the from of " + r.Config.Where(p, fmt.Sprintf("mappings[%d]", i))})
	}
	for i, re := range p.Gate.LeakRegexps() {
		out = append(out, fingerprint{re: re, what: "the pattern " + r.Config.Where(p, fmt.Sprintf("gate.leakPatterns[%d]", i))})
	}
	return out
}

// sourceOrg is the org name of the pipeline's source tenant: what this
// process's export of it said, else what the newest commit of the source
// folder at or before v records ("Snapshot of tenant dev (acme-sb)", a
// baseline in a chain). "" when neither is known.
func (r *Runner) sourceOrg(v view) string {
	if r.sourceOrgSeen != "" {
		return r.sourceOrgSeen
	}
	h := v.rev
	for range 2000 {
		if h.IsZero() {
			return ""
		}
		ci, err := r.Store.CommitInfo(h)
		if err != nil {
			return ""
		}
		if ci.Trailers["Promoter-Tenant"] == r.Pipeline.Source {
			subject, _, _ := strings.Cut(ci.Message, "\n")
			if i := strings.LastIndex(subject, " ("); i >= 0 && strings.HasSuffix(subject, ")") {
				return subject[i+2 : len(subject)-1]
			}
		}
		if len(ci.Parents) == 0 {
			return ""
		}
		h = ci.Parents[0]
	}
	return ""
}

// checkPayload runs the leak guard and the mapping check on the payload and
// records what they found on the plan.
func (r *Runner) checkPayload(pl *Plan, v view, targetOrg string, payload []spconfig.Entry) error {
	p := r.Pipeline
	fps := r.fingerprints(v, targetOrg)
	for _, e := range payload {
		k := e.Key()
		for i, m := range p.Mappings {
			if m.Optional || !m.Matches(k.Type, k.Scope, k.Name) {
				continue
			}
			segs, err := m.Segments()
			if err != nil {
				return err
			}
			cur, ok, err := jsonspan.Get(e.Object(), segs)
			if err != nil {
				return fmt.Errorf("mapping %s on %s: %w", m.Path, k, err)
			}
			var s string
			if ok && json.Unmarshal(cur, &s) == nil && (s == m.From || s == m.To) {
				continue
			}
			miss := MappingMiss{Object: k.String(), Mapping: r.Config.Where(p, fmt.Sprintf("mappings[%d]", i)), Path: m.Path, From: m.From, To: m.To}
			if ok {
				miss.Value = string(cur)
			}
			pl.MappingMisses = append(pl.MappingMisses, miss)
		}
		if len(fps) == 0 {
			continue
		}
		signed := e.Signed() || spconfig.SignedType(k.Type)
		err := walkStrings(e.Object(), func(segs []config.PathSegment, s string) {
			path := ""
			for _, f := range fps {
				found, hit := f.find(r.withoutMappedValues(s, f))
				if !hit {
					continue
				}
				if path == "" {
					path = config.FormatPath(segs)
				}
				if slices.ContainsFunc(p.Gate.AllowLeaks, func(a config.LeakAllowance) bool { return a.Allows(k, path) }) {
					return
				}
				pl.Leaks = append(pl.Leaks, Leak{Object: k.String(), Path: path, Value: s, Found: found, What: f.what, Signed: signed, key: k})
				return // one finding per value is enough to fix it
			}
		})
		if err != nil {
			return fmt.Errorf("leak guard: read %s: %w", k, err)
		}
	}
	return nil
}

// withoutMappedValues removes from s the mappings' to values that contain
// the fingerprint f: a to that extends a from (ad.acme.local ->
// ad.acme.local.prod) is the mapping's own output, not a leak.
func (r *Runner) withoutMappedValues(s string, f fingerprint) string {
	if f.re != nil {
		return s
	}
	for _, m := range r.Pipeline.Mappings {
		if m.To != "" && literalIndex(m.To, f.text, f.fold) >= 0 {
			s = strings.ReplaceAll(s, m.To, "\x00")
		}
	}
	return s
}

// walkStrings calls fn with the path and value of every string in a JSON
// document, object keys in sorted order.
func walkStrings(doc []byte, fn func(segs []config.PathSegment, s string)) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	var walk func(v any, segs []config.PathSegment)
	walk = func(v any, segs []config.PathSegment) {
		switch x := v.(type) {
		case string:
			fn(segs, x)
		case []any:
			for i, el := range x {
				walk(el, append(segs[:len(segs):len(segs)], config.PathSegment{Index: i, IsIndex: true}))
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(x[k], append(segs[:len(segs):len(segs)], config.PathSegment{Key: k}))
			}
		}
	}
	walk(v, nil)
	return nil
}

// payloadReasons are the gate's reasons for the leaks and mapping misses the
// plan found, each with how to fix it.
func (r *Runner) payloadReasons(pl *Plan) []string {
	var out []string
	for _, m := range pl.MappingMisses {
		held := "has no value at " + m.Path
		if m.Value != "" {
			held = m.Path + " holds " + m.Value
		}
		out = append(out, fmt.Sprintf("mapping %s does not apply to %s: %s, neither from %s nor to %s; the source value changed? correct the mapping's from (or to), or set optional: true on it if the value may differ or be absent",
			m.Mapping, m.Object, held, strconv.Quote(m.From), strconv.Quote(m.To)))
	}
	for _, l := range pl.Leaks {
		allow := fmt.Sprintf("gate.allowLeaks: [{type: %s, name: %s, path: %s}]", l.key.Type, strconv.Quote(l.key.Name), strconv.Quote(l.Path))
		fix := fmt.Sprintf("add or correct a mapping for it ({type: %s, name: %s, path: %s, from: ..., to: ...}), or allow it with %s", l.key.Type, strconv.Quote(l.key.Name), strconv.Quote(l.Path), allow)
		if l.Signed {
			fix = fmt.Sprintf("%s is signed and cannot be mapped: fix the value in tenant %s and export again, or allow it with %s", l.Object, r.Pipeline.Source, allow)
		}
		out = append(out, fmt.Sprintf("environment leak: %s %s holds %s, which contains %s (%s); %s",
			l.Object, l.Path, excerpt(l.Value, l.Found), strconv.Quote(l.Found), l.What, fix))
	}
	return out
}

// excerpt quotes value, or for a long one (a rule's script) the part around
// found, so a reason stays readable.
func excerpt(value, found string) string {
	const context = 40
	i := strings.Index(value, found)
	if len(value) <= 2*context+len(found)+20 || i < 0 {
		return strconv.Quote(value)
	}
	start, end := max(i-context, 0), min(i+len(found)+context, len(value))
	for start > 0 && !utf8.RuneStart(value[start]) {
		start--
	}
	for end < len(value) && !utf8.RuneStart(value[end]) {
		end++
	}
	out := strconv.Quote(value[start:end])
	if start > 0 {
		out = "..." + out
	}
	if end < len(value) {
		out += "..."
	}
	return out
}
