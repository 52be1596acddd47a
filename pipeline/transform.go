package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"promoter/spconfig"
)

// types returns the object types a pipeline covers: includeTypes minus excludeTypes.
func pipelineTypes(p *PipelineConfig) []string {
	inc := p.IncludeTypes
	if len(inc) == 0 {
		inc = spconfig.ExportableTypes
	}
	var out []string
	for _, t := range inc {
		if !slices.Contains(p.ExcludeTypes, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// excluded reports whether policy keeps the object out of promotion.
func excluded(p *PipelineConfig, k spconfig.Key) bool {
	for _, x := range p.Exclude {
		if x.Type != "" && x.Type != k.Type {
			continue
		}
		if matchName(x.Name, k) {
			return true
		}
	}
	return false
}

// matchName matches a configured object name against a key: "" matches every
// object, "/re/" is a regular expression, anything else must equal the name or
// "scope / name".
func matchName(pattern string, k spconfig.Key) bool {
	if pattern == "" {
		return true
	}
	full := k.Name
	if k.Scope != "" {
		full = k.Scope + " / " + k.Name
	}
	if len(pattern) >= 2 && strings.HasPrefix(pattern, "/") && strings.HasSuffix(pattern, "/") {
		re, err := regexp.Compile(pattern[1 : len(pattern)-1])
		return err == nil && (re.MatchString(k.Name) || re.MatchString(full))
	}
	return pattern == k.Name || pattern == full
}

// stripEntry removes the configured fields from an unsigned entry's object.
func stripEntry(p *PipelineConfig, e spconfig.Entry) (spconfig.Entry, error) {
	if e.Signed() || spconfig.SignedType(e.Type()) {
		return e, nil
	}
	obj := []byte(e.Object())
	changed := false
	for _, s := range p.Strip {
		if s.Type != "" && s.Type != e.Type() {
			continue
		}
		segs, err := parseJSONPath(s.Path)
		if err != nil {
			return e, err
		}
		out, ok, err := deleteJSONPath(obj, segs)
		if err != nil {
			return e, fmt.Errorf("strip %s from %s: %w", s.Path, e.Key(), err)
		}
		if ok {
			obj, changed = out, true
		}
	}
	if !changed {
		return e, nil
	}
	return e.WithObject(obj)
}

// mapEntry applies the pipeline's value mappings to an entry copied into the
// target folder. A mapping that matches a signed object is refused: signed
// objects must reach the target unmodified.
func mapEntry(p *PipelineConfig, e spconfig.Entry) (spconfig.Entry, []string, error) {
	obj := []byte(e.Object())
	var applied []string
	for _, m := range p.Mappings {
		if m.Type != e.Type() || !matchName(m.Name, e.Key()) {
			continue
		}
		if e.Signed() || spconfig.SignedType(e.Type()) {
			return e, nil, fmt.Errorf("mapping %s on %s: the object is signed and must reach the target unmodified; remove the mapping", m.Path, e.Key())
		}
		segs, err := parseJSONPath(m.Path)
		if err != nil {
			return e, nil, err
		}
		cur, ok, err := getJSONPath(obj, segs)
		if err != nil {
			return e, nil, fmt.Errorf("mapping %s on %s: %w", m.Path, e.Key(), err)
		}
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(cur, &s) != nil || s != m.From {
			continue
		}
		to, _ := json.Marshal(m.To)
		out, _, err := replaceJSONPath(obj, segs, to)
		if err != nil {
			return e, nil, fmt.Errorf("mapping %s on %s: %w", m.Path, e.Key(), err)
		}
		obj = out
		applied = append(applied, fmt.Sprintf("%s %s: %q -> %q", e.Key(), m.Path, m.From, m.To))
	}
	if len(applied) == 0 {
		return e, nil, nil
	}
	ne, err := e.WithObject(obj)
	return ne, applied, err
}
