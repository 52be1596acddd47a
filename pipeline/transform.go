package pipeline

import (
	"encoding/json"
	"fmt"

	"promoter/config"
	"promoter/jsonspan"
	"promoter/spconfig"
)

// pipelineTypes returns the object types a pipeline covers.
func pipelineTypes(p *config.Pipeline) []string { return p.Types() }

// excluded reports whether policy keeps the object out of promotion.
func excluded(p *config.Pipeline, k spconfig.Key) bool { return p.Excluded(k.Type, k.Scope, k.Name) }

// sanitize applies the pipeline's strip rules and secret scan to an exported
// entry, before it is compared or committed.
func sanitize(p *config.Pipeline, e spconfig.Entry) (spconfig.Entry, error) {
	e, err := stripEntry(p, e)
	if err != nil {
		return e, err
	}
	return secretScan(p, e)
}

// stripEntry removes the configured fields from an unsigned entry's object.
func stripEntry(p *config.Pipeline, e spconfig.Entry) (spconfig.Entry, error) {
	if e.Signed() || spconfig.SignedType(e.Type()) {
		return e, nil
	}
	obj := []byte(e.Object())
	changed := false
	for _, s := range p.Strip {
		if s.Type != "" && s.Type != e.Type() {
			continue
		}
		segs, err := s.Segments()
		if err != nil {
			return e, err
		}
		out, ok, err := jsonspan.Delete(obj, segs)
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
func mapEntry(p *config.Pipeline, e spconfig.Entry) (spconfig.Entry, []string, error) {
	obj := []byte(e.Object())
	var applied []string
	for _, m := range p.Mappings {
		k := e.Key()
		if !m.Matches(k.Type, k.Scope, k.Name) {
			continue
		}
		if e.Signed() || spconfig.SignedType(e.Type()) {
			return e, nil, fmt.Errorf("mapping %s on %s: the object is signed and must reach the target unmodified; remove the mapping", m.Path, e.Key())
		}
		segs, err := m.Segments()
		if err != nil {
			return e, nil, err
		}
		cur, ok, err := jsonspan.Get(obj, segs)
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
		out, _, err := jsonspan.Replace(obj, segs, to)
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
