package pipeline

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"promoter/diff"
	"promoter/jsonspan"
)

// MappedValue is a value of the desired state that a mapping wrote: the plan
// shows it so a reviewer knows it is not the source tenant's value.
type MappedValue struct {
	Object  string `json:"object"`
	Path    string `json:"path"`
	From    string `json:"from"`
	To      string `json:"to"`
	Mapping string `json:"mapping"` // pipelines[0].mappings[1] (line 18)
}

func (m MappedValue) String() string {
	return fmt.Sprintf("%s %s = %s (mapped from %s by %s)", m.Object, m.Path, strconv.Quote(m.To), strconv.Quote(m.From), m.Mapping)
}

// markMapped finds, in every object the plan shows as changed, the values
// the pipeline's mappings wrote (the path holds the mapping's to), notes
// them on the object's change and returns them.
func (r *Runner) markMapped(d *diff.Result, desired *folder) []MappedValue {
	p := r.Pipeline
	out := []MappedValue{}
	for ci := range d.Changes {
		c := &d.Changes[ci]
		if c.Kind == diff.Unchanged || !desired.has(c.Key) || c.New == nil {
			continue
		}
		var notes []string
		for i, m := range p.Mappings {
			if !m.Matches(c.Key.Type, c.Key.Scope, c.Key.Name) {
				continue
			}
			segs, err := m.Segments()
			if err != nil {
				continue
			}
			cur, ok, err := jsonspan.Get(c.New.Object(), segs) // the diff read the desired bytes
			var s string
			if err != nil || !ok || json.Unmarshal(cur, &s) != nil || s != m.To {
				continue
			}
			mv := MappedValue{Object: c.Key.String(), Path: m.Path, From: m.From, To: m.To, Mapping: r.Config.Where(p, fmt.Sprintf("mappings[%d]", i))}
			out = append(out, mv)
			notes = append(notes, fmt.Sprintf("mapped: %s = %s (from %s)", m.Path, strconv.Quote(m.To), strconv.Quote(m.From)))
		}
		if len(notes) > 0 {
			if c.Note != "" {
				notes = append([]string{c.Note}, notes...)
			}
			c.Note = strings.Join(notes, "; ")
		}
	}
	return out
}
