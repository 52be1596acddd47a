package spconfig

import "slices"

// VolatileField is a top-level field of an entry's object that differs
// between two exports of the same configuration, or between tenants holding
// the same configuration, without being a configuration change: a timestamp
// the tenant sets, a runtime statistic, a health state, a per-tenant id.
//
// The table is the one place these fields are listed (issue 17): gitstore
// keeps the stored file of an entry that differs only in them (no snapshot
// commit), and diff drops them before comparing (no plan change). Type "*"
// applies to every type.
type VolatileField struct {
	Name  string // short stable name; diff uses it as its rule name
	Type  string // object type, or "*" for every type
	Field string // key in the entry's "object"
	Why   string
}

var volatileFields = []VolatileField{
	{Name: "id", Type: "*", Field: "id", Why: "object id is per tenant"},
	{Name: "created", Type: "*", Field: "created", Why: "set by the tenant"},
	{Name: "modified", Type: "*", Field: "modified", Why: "set by the tenant on every save"},
	{Name: "modifiedBy", Type: "*", Field: "modifiedBy", Why: "who saved last; goes with modified"},
	{Name: "modifierId", Type: "*", Field: "modifierId", Why: "who saved last; goes with modified"},
	{Name: "profile-identityCount", Type: "IDENTITY_PROFILE", Field: "identityCount", Why: "runtime statistic"},
	{Name: "lifecycle-identityCount", Type: "LIFECYCLE_STATE", Field: "identityCount", Why: "runtime statistic"},
	{Name: "workgroup-memberCount", Type: "GOVERNANCE_GROUP", Field: "memberCount", Why: "runtime statistic"},
	{Name: "workgroup-connectionCount", Type: "GOVERNANCE_GROUP", Field: "connectionCount", Why: "runtime statistic"},
	{Name: "source-healthy", Type: "SOURCE", Field: "healthy", Why: "health check result"},
	{Name: "source-status", Type: "SOURCE", Field: "status", Why: "health check state"},
	{Name: "source-since", Type: "SOURCE", Field: "since", Why: "when the health state last changed"},
}

// volatileByType indexes the table: type -> field -> true ("*" rows under "*").
var volatileByType = func() map[string]map[string]bool {
	m := map[string]map[string]bool{}
	for _, v := range volatileFields {
		if m[v.Type] == nil {
			m[v.Type] = map[string]bool{}
		}
		m[v.Type][v.Field] = true
	}
	return m
}()

// VolatileFields returns the table of volatile fields (a copy).
func VolatileFields() []VolatileField { return slices.Clone(volatileFields) }

// Volatile reports whether field, a top-level key of an object of type typ,
// is volatile.
func Volatile(typ, field string) bool {
	return volatileByType["*"][field] || volatileByType[typ][field]
}
