package spconfigtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"promoter/spconfig"
)

// defaultRef is a defaultReferences entry in the object form of the spec's
// own example ({type, id, name}): a reference of that type that does not
// resolve by name resolves to this object instead.
type defaultRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// parseImportOptions decodes the "options" part of an import and checks it
// as the spec does: every type named in includeTypes, excludeTypes,
// objectOptions and defaultReferences must be one of the 7 importable types,
// else the request is a 400. Its errors follow "Request part 'options' ". defaultReferences may hold type names (the
// schema) or {type, id, name} objects (the spec's example); the objects come
// back apart.
func parseImportOptions(b []byte) (spconfig.ImportOptions, []defaultRef, error) {
	var in struct {
		ExcludeTypes      []string                          `json:"excludeTypes"`
		IncludeTypes      []string                          `json:"includeTypes"`
		ObjectOptions     map[string]spconfig.ObjectOptions `json:"objectOptions"`
		DefaultReferences []json.RawMessage                 `json:"defaultReferences"`
		ExcludeBackup     bool                              `json:"excludeBackup"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return spconfig.ImportOptions{}, nil, fmt.Errorf("is not valid ImportOptions JSON: %v", err)
	}
	opts := spconfig.ImportOptions{ExcludeTypes: in.ExcludeTypes, IncludeTypes: in.IncludeTypes, ObjectOptions: in.ObjectOptions, ExcludeBackup: in.ExcludeBackup}
	var bad []string
	check := func(field, typ string) {
		if !spconfig.Importable(typ) {
			bad = append(bad, field+": "+typ)
		}
	}
	for _, typ := range in.IncludeTypes {
		check("includeTypes", typ)
	}
	for _, typ := range in.ExcludeTypes {
		check("excludeTypes", typ)
	}
	for _, typ := range slices.Sorted(maps.Keys(in.ObjectOptions)) {
		check("objectOptions", typ)
	}
	var defaults []defaultRef
	for i, raw := range in.DefaultReferences {
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '{' {
			var d defaultRef
			if err := json.Unmarshal(raw, &d); err != nil || d.Type == "" || (d.ID == "" && d.Name == "") {
				return spconfig.ImportOptions{}, nil, fmt.Errorf("has a defaultReferences[%d] that is neither a type name nor {type, id, name}", i)
			}
			check("defaultReferences", d.Type)
			defaults = append(defaults, d)
			continue
		}
		var typ string
		if err := json.Unmarshal(raw, &typ); err != nil {
			return spconfig.ImportOptions{}, nil, fmt.Errorf("has a defaultReferences[%d] that is neither a type name nor {type, id, name}", i)
		}
		check("defaultReferences", typ)
		opts.DefaultReferences = append(opts.DefaultReferences, typ)
	}
	if len(bad) > 0 {
		return spconfig.ImportOptions{}, nil, fmt.Errorf("names types that cannot be imported (%s); importable types: %s",
			strings.Join(bad, ", "), strings.Join(spconfig.ImportableTypes(), ", "))
	}
	return opts, defaults, nil
}

// resolveDefaultLocked resolves a reference that did not resolve by name
// through the import's defaultReferences: an object-form default of the
// reference's type names the target object to use (by name, else id); a type
// named in the string form lets the reference resolve by its id when the
// target has an object of that type and id.
func (t *Tenant) resolveDefaultLocked(rf ref, types []string, defaults []defaultRef) (id, name string, ok bool) {
	for _, d := range defaults {
		if d.Type != rf.Type {
			continue
		}
		for _, o := range t.objects {
			if o.Type == d.Type && d.Name != "" && (o.Key.Name == d.Name || o.SelfName == d.Name) {
				return o.ID, o.Key.Name, true
			}
		}
		for _, o := range t.objects {
			if o.Type == d.Type && d.ID != "" && o.ID == d.ID {
				return o.ID, o.Key.Name, true
			}
		}
	}
	for _, typ := range types {
		if typ != rf.Type {
			continue
		}
		for _, o := range t.objects {
			if o.Type == rf.Type && o.ID == rf.ID {
				return o.ID, o.Key.Name, true
			}
		}
	}
	return "", "", false
}
