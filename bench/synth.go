package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// typeMix spreads objects over types, per 100 objects, roughly as in a large
// tenant: many access profiles and roles, fewer sources and profiles.
var typeMix = []struct {
	typ string
	n   int
}{
	{"ACCESS_PROFILE", 30}, {"ROLE", 18}, {"TRANSFORM", 12}, {"SOURCE", 6}, {"RULE", 5},
	{"IDENTITY_PROFILE", 3}, {"TRIGGER_SUBSCRIPTION", 3}, {"WORKFLOW", 5}, {"TAG", 5},
	{"GOVERNANCE_GROUP", 5}, {"SEGMENT", 4}, {"SOD_POLICY", 4},
}

// typeOf returns the type of object i (deterministic).
func typeOf(i int) string {
	r := i % 100
	for _, t := range typeMix {
		if r < t.n {
			return t.typ
		}
		r -= t.n
	}
	return typeMix[0].typ
}

// synth is a deterministic synthetic tenant of n objects.
type synth struct {
	n      int
	tenant string // "dev" or "prod": ids differ per tenant, names do not
}

func (s synth) id(kind string, i int) string {
	h := sha256.Sum256([]byte(s.tenant + "/" + kind + "/" + fmt.Sprint(i)))
	return hex.EncodeToString(h[:16])
}

const identityCount = 40

// identities are the owners objects refer to.
func (s synth) identities() []spconfigtest.Identity {
	out := make([]spconfigtest.Identity, identityCount)
	for i := range out {
		out[i] = spconfigtest.Identity{ID: s.id("IDENTITY", i), Name: fmt.Sprintf("owner.%02d", i)}
	}
	return out
}

// nameOf is the name of object i (unique within its type).
func nameOf(i int) string {
	t := typeOf(i)
	w := strings.ToLower(strings.ReplaceAll(t, "_", " "))
	return fmt.Sprintf("%s %06d", strings.ToUpper(w[:1])+w[1:], i)
}

// nearest returns the index of an object of type t near i (deterministic),
// so references point at objects that exist.
func (s synth) nearest(t string, i int) int {
	for d := 0; d < 200; d++ {
		for _, j := range []int{i - d, i + d} {
			if j >= 0 && j < s.n && typeOf(j) == t {
				return j
			}
		}
	}
	return -1
}

func (s synth) ref(t string, i int) string {
	j := s.nearest(t, i)
	if j < 0 {
		return "null"
	}
	name := nameOf(j)
	id := s.id(t, j)
	return fmt.Sprintf(`{"type":"%s","id":"%s","name":"%s"}`, t, id, name)
}

func (s synth) owner(i int) string {
	k := i % identityCount
	return fmt.Sprintf(`{"type":"IDENTITY","id":"%s","name":"owner.%02d"}`, s.id("IDENTITY", k), k)
}

const filler = "Grants the access needed for the daily work of the team, reviewed every quarter by the owner and the security office; "

// object returns the JSON object of object i at revision rev.
func (s synth) object(i, rev int) string {
	t := typeOf(i)
	id, name := s.id(t, i), nameOf(i)
	desc := fmt.Sprintf("%s (revision %d). ", name, rev)
	var body string
	switch t {
	case "ACCESS_PROFILE":
		body = fmt.Sprintf(`"enabled":true,"owner":%s,"source":%s,"entitlements":[{"type":"ENTITLEMENT","id":"%s","name":"CN=group-%d,OU=Groups,DC=acme,DC=local"},{"type":"ENTITLEMENT","id":"%s","name":"CN=group-%d,OU=Groups,DC=acme,DC=local"}],"requestable":true,"accessRequestConfig":{"commentsRequired":false,"denialCommentsRequired":false,"approvalSchemes":[{"approverType":"MANAGER","approverId":null}]},"segments":[]`,
			s.owner(i), s.ref("SOURCE", i), s.id("ENT", i%500), i%500, s.id("ENT", (i+7)%500), (i+7)%500)
	case "ROLE":
		body = fmt.Sprintf(`"enabled":true,"owner":%s,"accessProfiles":[%s,%s],"entitlements":[],"membership":{"type":"STANDARD","criteria":{"operation":"EQUALS","key":{"type":"IDENTITY","property":"attribute.department","sourceId":null},"stringValue":"dept-%d"}},"requestable":false,"dimensional":false`,
			s.owner(i), s.ref("ACCESS_PROFILE", i), s.ref("ACCESS_PROFILE", i+40), i%97)
	case "TRANSFORM":
		body = fmt.Sprintf(`"type":"concat","attributes":{"values":[{"attributes":{"sourceName":"HR %d","attributeName":"FirstName"},"type":"accountAttribute"}," ",{"attributes":{"sourceName":"HR %d","attributeName":"LastName"},"type":"accountAttribute"}]},"internal":false`, i%13, i%13)
	case "SOURCE":
		body = fmt.Sprintf(`"type":"Delimited File","connectorClass":"sailpoint.connector.DelimitedFileConnector","owner":%s,"cluster":{"type":"CLUSTER","id":"%s","name":"Cluster %d"},"deleteThreshold":10.0,"provisionAsCsv":false,"features":["DIRECT_PERMISSIONS","NO_RANDOM_ACCESS"],"connectorAttributes":{"host":"files-%d.acme.local","port":22,"delimiter":",","hasHeader":true,"healthCheckTimeout":30},"schemas":[{"type":"CONNECTOR_SCHEMA","id":"%s","name":"account"}]`,
			s.owner(i), s.id("CLUSTER", i%3), i%3, i, s.id("SCHEMA", i))
	case "RULE":
		body = fmt.Sprintf(`"type":"BeforeProvisioning","signature":{"input":[],"output":null},"sourceCode":{"version":"1.0","script":"import sailpoint.object.*;\nlog.debug(\"rule %d\");\nreturn plan;\n"}`, i)
	case "IDENTITY_PROFILE":
		body = fmt.Sprintf(`"owner":%s,"priority":%d,"authoritativeSource":%s,"identityRefreshRequired":false,"identityCount":%d,"identityAttributeConfig":{"enabled":true,"attributeTransforms":[{"identityAttributeName":"email","transformDefinition":{"type":"accountAttribute","attributes":{"attributeName":"mail","sourceName":"HR"}}}]}`,
			s.owner(i), 10+i%50, s.ref("SOURCE", i), i%1000)
	case "TRIGGER_SUBSCRIPTION":
		body = fmt.Sprintf(`"type":"HTTP","enabled":true,"httpConfig":{"url":"https://hooks-%d.acme.example/isc","httpAuthenticationType":"NO_AUTH","basicAuthConfig":null,"bearerTokenAuthConfig":null,"httpDispatchMode":"SYNC"},"triggerName":"Access Request Submitted","responseDeadline":"PT1H","triggerId":"idn:access-request-pre-approval"`, i)
	case "WORKFLOW":
		body = fmt.Sprintf(`"enabled":false,"executionCount":%d,"failureCount":0,"owner":%s,"trigger":{"type":"EVENT","attributes":{"id":"idn:identity-attributes-changed"}},"definition":{"start":"Send Email","steps":{"Send Email":{"actionId":"sp:send-email","attributes":{"body":"hello %d"},"nextStep":"End","type":"action"},"End":{"type":"success"}}}`, i%7, s.owner(i), i)
	case "TAG":
		body = fmt.Sprintf(`"tagCategoryRefs":[%s]`, s.ref("ACCESS_PROFILE", i))
	case "GOVERNANCE_GROUP":
		body = fmt.Sprintf(`"owner":%s,"memberCount":%d,"connectionCount":1`, s.owner(i), i%20)
	case "SEGMENT":
		body = fmt.Sprintf(`"owner":%s,"visibilityCriteria":{"expression":{"operator":"EQUALS","attribute":"location","value":{"type":"STRING","value":"Site %d"},"children":[]}},"active":true`, s.owner(i), i%50)
	case "SOD_POLICY":
		body = fmt.Sprintf(`"ownerRef":%s,"externalPolicyReference":"policy %d","policyQuery":"@access(id:%s OR id:%s)","compensatingControls":"review","state":"ENFORCED","tags":["SOX"],"creatorId":"%s"`,
			s.owner(i), i, s.id("ENT", i%500), s.id("ENT", (i+1)%500), s.id("IDENTITY", 0))
	}
	obj := fmt.Sprintf(`{"id":"%s","name":"%s","created":"2024-05-13T19:45:31.367Z","modified":"2024-07-11T19:20:19.676Z","description":"%s",%s}`, id, name, desc, body)
	// pad the description to about 1.5 KB per entry
	for len(obj) < 1380 {
		k := min(len(filler), 1380-len(obj))
		obj = strings.Replace(obj, desc, desc+filler[:k], 1)
		desc += filler[:k]
	}
	return obj
}

// entry returns export entry i at revision rev.
func (s synth) entry(i, rev int) string {
	t := typeOf(i)
	self := nameOf(i)
	if t == "SOURCE" {
		self += fmt.Sprintf(" [source-%d]", 100000+i)
	}
	if s.tenant == "prod" && t == "SOURCE" {
		self = nameOf(i) + fmt.Sprintf(" [source-%d]", 200000+i)
	}
	return fmt.Sprintf(`{"version":1,"self":{"name":"%s","id":"%s","type":"%s"},"object":%s}`, self, s.id(t, i), t, s.object(i, rev))
}

// changedIndexes lists the objects the 1% step changes: n/100 objects spread
// evenly over the importable types, so the change can be imported.
func changedIndexes(n int) []int {
	var imp []int
	for i := 0; i < n; i++ {
		if spconfig.Importable(typeOf(i)) {
			imp = append(imp, i)
		}
	}
	want := max(1, n/100)
	step := max(1, len(imp)/want)
	var out []int
	for j := 0; j < len(imp) && len(out) < want; j += step {
		out = append(out, imp[j])
	}
	return out
}

// document returns the seed export document of the tenant: every object at
// revision 1.
func (s synth) document() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version":1,"timestamp":"2026-01-01T00:00:00Z","tenant":"%s","objects":[`, s.tenant)
	for i := 0; i < s.n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n")
		b.WriteString(s.entry(i, 1))
	}
	b.WriteString("\n]}\n")
	return []byte(b.String())
}
