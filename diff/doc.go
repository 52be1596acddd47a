// Package diff compares two sets of SP-Config objects and renders the changes
// a reviewer needs to see: for a terminal (RenderText), for a pull request
// (RenderMarkdown) and for machines (RenderJSON).
//
// It owns object matching (by spconfig.Key: type and name, SOURCE by
// object.name, LIFECYCLE_STATE scoped by identity profile, singletons by type),
// rename detection within one tenant's history (same self.id, new key), the
// table of per-type comparison rules (Rules: the volatile fields of
// spconfig.VolatileFields, arrays compared as sets, empty versus missing
// values, references by name, tenant ids) and the line diff used for rule
// scripts. Field changes are collected with a
// custom go-cmp Reporter over JSON-shaped values decoded with UseNumber; go-cmp
// panics are recovered into errors.
//
// It does not read git, files or tenants, decide what to import, apply value
// mappings, or set notes such as "drift" or "not deleted": callers do that and
// may fill Change.Note, which every renderer shows.
//
// # JSON output (RenderJSON), schemaVersion 1
//
//	{
//	  "schemaVersion": 1,
//	  "empty": false,              // true when nothing but unchanged objects
//	  "totals": {"added": 7, "removed": 1, "modified": 9, "renamed": 0, "unchanged": 42},
//	  "types": [                   // one row per type present, sorted by type
//	    {"type": "SOURCE", "added": 1, "removed": 0, "modified": 1, "renamed": 0, "unchanged": 1}
//	  ],
//	  "changes": [                 // sorted by type, scope, name
//	    {
//	      "type": "SOURCE", "scope": "", "name": "Active Directory",
//	      "kind": "modified",      // added | removed | modified | renamed | unchanged
//	      "oldName": "",           // renamed: the name before
//	      "oldId": "…", "newId": "…", // self.id on each side, "" when absent
//	      "importable": true,      // SP-Config can import this type
//	      "signed": false,         // RULE/CONNECTOR_RULE or carries a JWS signature
//	      "note": "",              // set by the caller (drift, conflict, not deleted…)
//	      "fields": [              // modified and renamed objects; [] otherwise
//	        {"path": "$.description", "kind": "changed",  // added | removed | changed
//	         "old": "SailPoint Active Directory", "new": "Corporate …"}
//	      ]
//	    }
//	  ]
//	}
//
// Every key is always present except a field's "old" (absent for an added
// field) and "new" (absent for a removed field). Values are the normalised
// JSON values: references appear without their per-tenant id, and across
// tenants ids appear as "${TYPE:Name}" or "${id:hex32}"/"${id:uuid}" tokens.
// New keys may be added within schemaVersion 1; none is removed or renamed.
package diff
