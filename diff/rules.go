package diff

import "promoter/spconfig"

// Action says what a Rule does to the values it matches.
type Action string

const (
	// Ignore drops a volatile field before comparing: it differs between
	// exports or tenants without being a configuration change.
	Ignore Action = "ignore"
	// Set compares an array as a multiset of values: order has no meaning.
	// An element shows as added or removed, never as a shifted position.
	Set Action = "set"
	// KeyedSet compares an array of objects as a set whose elements are
	// identified by the value of Rule.Key; paths read "[key=value]". When an
	// element lacks the key the array falls back to positional comparison.
	KeyedSet Action = "keyed-set"
	// Ordered compares an array by position although its elements look like
	// references (the general reference-set rule does not apply).
	Ordered Action = "ordered"
	// General marks a rule that applies everywhere in every object; it is
	// implemented in the normaliser, listed here so the table is complete.
	General Action = "general"
)

// Rule is one row of the comparison rules. Path is a JSON path from the
// object root (the entry's "object"); "[]" stands for any element of an
// array. Type "*" applies to every type.
type Rule struct {
	Name   string // short stable name, used by tests and in documentation
	Type   string
	Path   string
	Action Action
	Key    string // the identifying field for KeyedSet
	Why    string
}

// Rules is the table of per-type comparison rules. Everything not listed is
// compared exactly (arrays by position, strings byte for byte, numbers by
// value so 10.0 equals 10). Only the entry's "object" is compared: "self"
// (whose SOURCE name carries a per-tenant " [source-N]" suffix and whose id is
// per tenant), "version" and the JWS header/signature are not content.
//
// General rules (Action General) apply at every path:
//
//   - empty-is-absent: a field whose value is null, [] or {} equals a missing
//     field (the API omits and nulls optional fields inconsistently). An empty
//     string is a value.
//   - reference-by-name: a reference object {type, id, name} (type in upper
//     case, no other keys) compares by type and name; its id is per tenant.
//     A reference without a name keeps its id, translated as below.
//   - reference-set: an array whose elements are all references compares as a
//     set keyed by "TYPE:name" (order of owners, schemas, policies, access
//     profiles, criteria... carries no meaning), unless an Ordered rule says so.
//   - source-suffix: " [source-N]" inside strings (SOURCE self.name and the
//     accountCorrelationConfig name that embeds it) is per-tenant noise.
//   - tenant-ids (Options.CrossTenant only): every 32-hex or UUID id found in a
//     string value (bare ids such as sourceIds, segments, accessProfileIds, and
//     ids inside strings such as a SoD policyQuery or a trigger filter) that is
//     the self.id or object.id of an entry on the same side becomes the token
//     "${TYPE:Name}" (LIFECYCLE_STATE "${LIFECYCLE_STATE:Profile/Name}"); an id
//     reference {type, id} to such an entry becomes {type, name}. Ids of things
//     that are not exported (identities, entitlements, clusters...) cannot be
//     translated: they become "${id:hex32}" or "${id:uuid}", so two unknown ids
//     of the same shape at the same place compare equal. LIMITATION: a change
//     from one unknown id to another (say a different entitlement id in a SoD
//     criterion without a name) is not detected across tenants. Objects of
//     signed types (RULE, CONNECTOR_RULE) are never rewritten.
var Rules = append(ignoreRules(), []Rule{
	{Name: "profile-attributeTransforms", Type: "IDENTITY_PROFILE", Path: "$.identityAttributeConfig.attributeTransforms", Action: KeyedSet, Key: "identityAttributeName", Why: "one mapping per identity attribute; order is display only"},
	{Name: "identity-object-attributes", Type: "IDENTITY_OBJECT_CONFIG", Path: "$.attributes", Action: KeyedSet, Key: "name", Why: "identity attributes are identified by name"},
	{Name: "public-identities-attributes", Type: "PUBLIC_IDENTITIES_CONFIG", Path: "$.attributes", Action: KeyedSet, Key: "key", Why: "public attributes are identified by key"},
	{Name: "attr-sync-attributes", Type: "ATTR_SYNC_SOURCE_CONFIG", Path: "$.attributes", Action: KeyedSet, Key: "name", Why: "sync attributes are identified by name"},
	{Name: "lifecycle-accountActions", Type: "LIFECYCLE_STATE", Path: "$.accountActions", Action: KeyedSet, Key: "action", Why: "one entry per action (ENABLE, DISABLE, DELETE)"},
	{Name: "lifecycle-sourceIds", Type: "LIFECYCLE_STATE", Path: "$.accountActions[].sourceIds", Action: Set, Why: "set of source ids"},
	{Name: "lifecycle-accessProfileIds", Type: "LIFECYCLE_STATE", Path: "$.accessProfileIds", Action: Set, Why: "set of access profile ids"},
	{Name: "lifecycle-emailAddressList", Type: "LIFECYCLE_STATE", Path: "$.emailNotificationOption.emailAddressList", Action: Set, Why: "set of addresses"},
	{Name: "password-policy-sourceIds", Type: "PASSWORD_POLICY", Path: "$.sourceIds", Action: Set, Why: "set of source ids"},
	{Name: "password-sync-sourceIds", Type: "PASSWORD_SYNC_GROUP", Path: "$.sourceIds", Action: Set, Why: "set of source ids"},
	{Name: "access-profile-segments", Type: "ACCESS_PROFILE", Path: "$.segments", Action: Set, Why: "set of segment ids"},
	{Name: "role-segments", Type: "ROLE", Path: "$.segments", Action: Set, Why: "set of segment ids"},
	{Name: "access-profile-metadata", Type: "ACCESS_PROFILE", Path: "$.accessModelMetadata.attributes", Action: KeyedSet, Key: "key", Why: "metadata attributes are identified by key"},
	{Name: "access-profile-metadata-values", Type: "ACCESS_PROFILE", Path: "$.accessModelMetadata.attributes[].values", Action: KeyedSet, Key: "value", Why: "metadata values are identified by value"},
	{Name: "access-profile-metadata-objectTypes", Type: "ACCESS_PROFILE", Path: "$.accessModelMetadata.attributes[].objectTypes", Action: Set, Why: "set of object types"},
	{Name: "role-metadata", Type: "ROLE", Path: "$.accessModelMetadata.attributes", Action: KeyedSet, Key: "key", Why: "metadata attributes are identified by key"},
	{Name: "role-metadata-values", Type: "ROLE", Path: "$.accessModelMetadata.attributes[].values", Action: KeyedSet, Key: "value", Why: "metadata values are identified by value"},
	{Name: "role-metadata-objectTypes", Type: "ROLE", Path: "$.accessModelMetadata.attributes[].objectTypes", Action: Set, Why: "set of object types"},
	{Name: "sod-tags", Type: "SOD_POLICY", Path: "$.tags", Action: Set, Why: "tag list"},
	{Name: "source-features", Type: "SOURCE", Path: "$.features", Action: Set, Why: "feature flags"},
	{Name: "service-desk-managedSources", Type: "SERVICE_DESK_INTEGRATION", Path: "$.managedSources", Action: Set, Why: "set of source ids"},
	{Name: "auth-org-geolocation", Type: "AUTH_ORG", Path: "$.networkConfig.geolocation", Action: Set, Why: "set of country codes"},
	{Name: "auth-org-federation", Type: "AUTH_ORG", Path: "$.serviceProviderConfig.federationProtocolDetails", Action: KeyedSet, Key: "role", Why: "one entry per role (SAML_IDP, SAML_SP)"},
	{Name: "auth-org-range", Type: "AUTH_ORG", Path: "$.networkConfig.range", Action: Set, Why: "set of IP ranges"},
	{Name: "connector-rule-signature", Type: "CONNECTOR_RULE", Path: "$.signature.input", Action: Ordered, Why: "rule signature arguments are positional"},
	{Name: "rule-signature", Type: "RULE", Path: "$.signature.input", Action: Ordered, Why: "rule signature arguments are positional"},

	{Name: "empty-is-absent", Type: "*", Path: "*", Action: General, Why: "null, [] and {} equal a missing field"},
	{Name: "reference-by-name", Type: "*", Path: "*", Action: General, Why: "{type,id,name} compares by type and name"},
	{Name: "reference-set", Type: "*", Path: "*", Action: General, Why: "arrays of references are sets keyed by TYPE:name"},
	{Name: "source-suffix", Type: "*", Path: "*", Action: General, Why: `" [source-N]" is per-tenant noise`},
	{Name: "tenant-ids", Type: "*", Path: "*", Action: General, Why: "cross-tenant: ids translated through each side's own index"},
}...)

// ignoreRules returns the Ignore rows: one per volatile field of the model
// (spconfig.VolatileFields), the table gitstore's SemanticEqual uses too, so a
// re-export that makes no snapshot commit shows no change in a plan, and the
// reverse.
func ignoreRules() []Rule {
	var out []Rule
	for _, v := range spconfig.VolatileFields() {
		out = append(out, Rule{Name: v.Name, Type: v.Type, Path: "$." + v.Field, Action: Ignore, Why: v.Why})
	}
	return out
}

// pathRules indexes the path rules: type -> path -> rule ("*" rules are
// merged into every type's map on lookup).
var pathRules = func() map[string]map[string]Rule {
	m := map[string]map[string]Rule{}
	for _, r := range Rules {
		if r.Action == General {
			continue
		}
		if m[r.Type] == nil {
			m[r.Type] = map[string]Rule{}
		}
		m[r.Type][r.Path] = r
	}
	return m
}()

// rulesFor returns the path rules of one type, "*" rules included.
func rulesFor(typ string) map[string]Rule {
	own, all := pathRules[typ], pathRules["*"]
	out := make(map[string]Rule, len(own)+len(all))
	for p, r := range all {
		out[p] = r
	}
	for p, r := range own {
		out[p] = r
	}
	return out
}

var ruleCache = func() map[string]map[string]Rule {
	m := map[string]map[string]Rule{}
	for t := range pathRules {
		m[t] = rulesFor(t)
	}
	return m
}()

// ruleChildren holds, per type, for every path that leads to a rule, the
// object keys under it that lead further (or are the rule path itself), so
// the normaliser builds path strings only where a rule can match.
var ruleChildren = func() map[string]map[string]map[string]bool {
	m := map[string]map[string]map[string]bool{}
	for t, rules := range ruleCache {
		children := map[string]map[string]bool{}
		for p := range rules {
			// walk "$.a.b[].c": parent "$" child "a", parent "$.a" child "b",
			// parent "$.a.b[]" child "c"
			start := 0
			for i := 1; i <= len(p); i++ {
				if i < len(p) && p[i] != '.' && p[i] != '[' {
					continue
				}
				if i < len(p) && p[i] == '[' {
					continue // "[]" belongs to its key
				}
				seg := p[start:i]
				if start > 0 {
					parent := p[:start-1]
					key := seg
					if len(key) > 2 && key[len(key)-2:] == "[]" {
						key = key[:len(key)-2]
					}
					if children[parent] == nil {
						children[parent] = map[string]bool{}
					}
					children[parent][key] = true
				}
				start = i + 1
			}
		}
		m[t] = children
	}
	return m
}()

func typeChildren(typ string) map[string]map[string]bool {
	if r, ok := ruleChildren[typ]; ok {
		return r
	}
	return ruleChildren["*"]
}

func typeRules(typ string) map[string]Rule {
	if r, ok := ruleCache[typ]; ok {
		return r
	}
	return ruleCache["*"]
}
