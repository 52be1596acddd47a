package diff

import (
	"encoding/json"
	"io"
)

// SchemaVersion is the version of RenderJSON's output schema. It changes
// only when a field is removed or changes meaning; new fields may be added.
const SchemaVersion = 1

type jsonDoc struct {
	SchemaVersion int          `json:"schemaVersion"`
	Empty         bool         `json:"empty"`
	Totals        jsonCounts   `json:"totals"`
	Types         []jsonCounts `json:"types"`
	Changes       []jsonChange `json:"changes"`
}

type jsonCounts struct {
	Type      string `json:"type,omitempty"`
	Added     int    `json:"added"`
	Removed   int    `json:"removed"`
	Modified  int    `json:"modified"`
	Renamed   int    `json:"renamed"`
	Unchanged int    `json:"unchanged"`
}

type jsonChange struct {
	Type       string      `json:"type"`
	Scope      string      `json:"scope"`
	Name       string      `json:"name"`
	Kind       Kind        `json:"kind"`
	OldName    string      `json:"oldName"`
	OldID      string      `json:"oldId"`
	NewID      string      `json:"newId"`
	Importable bool        `json:"importable"`
	Signed     bool        `json:"signed"`
	Note       string      `json:"note"`
	Fields     []jsonField `json:"fields"`
}

type jsonField struct {
	Path string          `json:"path"`
	Kind string          `json:"kind"`
	Old  json.RawMessage `json:"old,omitempty"`
	New  json.RawMessage `json:"new,omitempty"`
}

func toJSONCounts(c TypeCount) jsonCounts {
	return jsonCounts(c)
}

// RenderJSON writes the result as one indented JSON document; see the
// package documentation for the schema.
func RenderJSON(w io.Writer, r Result) error {
	counts := r.Counts()
	doc := jsonDoc{SchemaVersion: SchemaVersion, Empty: r.Empty(), Types: []jsonCounts{}, Changes: []jsonChange{}}
	t := toJSONCounts(totals(counts))
	t.Type = ""
	doc.Totals = t
	for _, c := range counts {
		doc.Types = append(doc.Types, toJSONCounts(c))
	}
	for _, c := range r.Changes {
		jc := jsonChange{Type: c.Key.Type, Scope: c.Key.Scope, Name: c.Key.Name, Kind: c.Kind, OldName: c.OldName,
			Importable: c.Importable, Signed: c.Signed, Note: c.Note, Fields: []jsonField{}}
		if c.Old != nil {
			jc.OldID = c.Old.Self.ID
		}
		if c.New != nil {
			jc.NewID = c.New.Self.ID
		}
		for _, f := range c.Fields {
			jc.Fields = append(jc.Fields, jsonField(f))
		}
		doc.Changes = append(doc.Changes, jc)
	}
	b, err := marshalIndent(doc)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
