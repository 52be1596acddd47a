package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"promoter/config"
	"promoter/spconfig"
)

func TestIsSecretName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"password", true},
		{"adminPassword", true},
		{"AdminPassword", true},
		{"admin_password", true},
		{"privateKeyPassword", true},
		{"passwd", true},
		{"passphrase", true},
		{"adminPwd", true},
		{"secret", true},
		{"clientSecret", true},
		{"client_secret", true},
		{"secretKey", true},
		{"token", true},
		{"apiToken", true},
		{"accessToken", true},
		{"refresh_token", true},
		{"X-Auth-Token", true},
		{"apiKey", true},
		{"api_key", true},
		{"privateKey", true},
		{"private-key", true},
		{"signingKey", true},
		{"serviceCredential", true},
		{"credentials", true},
		// facts about a credential, not the credential
		{"tokenUrl", false},
		{"tokenURI", false},
		{"oauthTokenEndpoint", false},
		{"passwordPolicy", false},
		{"passwordPolicies", false},
		{"passwordPolicyId", false},
		{"passwordPolicyName", false},
		{"tokenType", false},
		{"passwordExpiration", false},
		{"passwordMinLength", false},
		{"passwordAttribute", false},
		{"tokenExpiresIn", false},
		{"tokenTimeout", false},
		{"secretName", false},
		{"credentialProviderEnabled", false},
		{"apiKeyId", false},
		// no credential word at all
		{"name", false},
		{"key", false},
		{"keystore", false},
		{"authnContext", false},
		{"cert", false},
	}
	for _, tt := range tests {
		if got := isSecretName(tt.name); got != tt.want {
			t.Errorf("isSecretName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// sampleDocs reads the export documents of ../shared/samples.
func sampleDocs(t *testing.T) []*spconfig.ExportDocument {
	t.Helper()
	dir, err := filepath.Abs("../../shared/samples")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("../shared/samples not present (%v)", err)
	}
	var docs []*spconfig.ExportDocument
	for _, name := range []string{"tenant-dev.export.json", "tenant-prod.export.json"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := spconfig.ReadExport(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, doc)
	}
	return docs
}

// plantedSecrets are credentials under compound names, as a source's
// connectorAttributes hold them; plantedFacts are fields about credentials
// that must pass.
var (
	plantedSecrets = []string{"adminPassword", "apiToken", "apiKey", "privateKey", "client_secret", "refreshToken", "serviceAccountPwd", "passphrase"}
	plantedFacts   = map[string]string{
		"tokenUrl":           "https://login.example.com/oauth/token",
		"passwordPolicy":     "Default Password Policy",
		"passwordPolicyId":   "2c9180855d191c59015d291ceb053980",
		"tokenType":          "Bearer",
		"passwordExpiration": "90",
		"passwordAttribute":  "unicodePwd",
		"secretMasked":       "********",
		"tokenEmpty":         "",
	}
)

const plantedValue = "s3cr3t-XYZZY"

// plant adds the planted fields to obj at the top level and in a nested
// object (a SOURCE's connectorAttributes, else a new member holding an
// array of one object).
func plant(t *testing.T, obj json.RawMessage, typ string) (json.RawMessage, []string) {
	t.Helper()
	fields := map[string]any{}
	for _, k := range plantedSecrets {
		fields[k] = plantedValue
	}
	for k, v := range plantedFacts {
		fields[k] = v
	}
	fields["passwordPolicies"] = []any{map[string]any{"type": "PASSWORD_POLICY", "id": "x", "name": "Default"}}
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k, v := range fields {
		m[k] = v
	}
	for _, k := range plantedSecrets {
		want = append(want, "$."+k)
	}
	if ca, ok := m["connectorAttributes"].(map[string]any); ok && typ == "SOURCE" {
		for _, k := range plantedSecrets {
			ca[k] = plantedValue
			want = append(want, "$.connectorAttributes."+k)
		}
		for k, v := range plantedFacts {
			ca[k] = v
		}
	} else {
		nested := map[string]any{}
		for k, v := range fields {
			nested[k] = v
		}
		m["plantedNested"] = []any{nested}
		for _, k := range plantedSecrets {
			want = append(want, "$.plantedNested[0]."+k)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	return out, want
}

// TestSecretScanOverEverySampleType checks every object of the samples
// (no field of real content is taken for a credential) and, for every type,
// the first object with credentials planted under compound names beside
// fields about credentials: refuse names exactly the credentials, redact
// replaces exactly them, and a signed type is refused instead of redacted.
func TestSecretScanOverEverySampleType(t *testing.T) {
	docs := sampleDocs(t)
	firstOfType := map[string]spconfig.Entry{}
	var types []string
	for _, doc := range docs {
		for _, e := range doc.Objects {
			found, err := scanSecrets(e.Object(), nil)
			if err != nil {
				t.Fatalf("scan %s: %v", e.Key(), err)
			}
			for _, f := range found {
				t.Errorf("%s: %s of the sample is taken for a credential", e.Key(), f.path)
			}
			if _, ok := firstOfType[e.Type()]; !ok {
				firstOfType[e.Type()] = e
				types = append(types, e.Type())
			}
		}
	}
	if len(types) < 25 {
		t.Fatalf("the samples hold %d types, want all 25", len(types))
	}
	sort.Strings(types)
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			e := firstOfType[typ]
			obj, want := plant(t, e.Object(), typ)
			found, err := scanSecrets(obj, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range found {
				got = append(got, f.path)
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			pe, err := e.WithObject(obj)
			if err != nil {
				t.Fatal(err)
			}
			refuse := &config.Pipeline{SecretScan: config.SecretScan{Action: config.ScanRefuse}}
			if _, err := secretScan(refuse, pe); err == nil || !strings.Contains(err.Error(), "$.adminPassword") || strings.Contains(err.Error(), plantedValue) {
				t.Errorf("refuse: want an error naming the fields without their values, got %v", err)
			}
			redact := &config.Pipeline{SecretScan: config.SecretScan{Action: config.ScanRedact}}
			re, err := secretScan(redact, pe)
			if pe.Signed() || spconfig.SignedType(typ) {
				if err == nil {
					t.Errorf("redact of a signed %s succeeded; it must be refused", typ)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := string(re.Object())
			if n := strings.Count(out, redacted); strings.Contains(out, plantedValue) || n != len(want) {
				t.Errorf("redact left a credential or replaced %d values, want %d:\n%s", n, len(want), out)
			}
			for k, v := range plantedFacts {
				b, _ := json.Marshal(map[string]string{k: v})
				if pair := strings.Trim(string(b), "{}"); !strings.Contains(out, pair) {
					t.Errorf("redact changed %s", pair)
				}
			}
		})
	}
}

// FuzzMayHoldSecrets checks the scan's prefilter against the full scan: an
// object it lets through unparsed must have no finding.
func FuzzMayHoldSecrets(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","adminPassword":"x"}`, `{"a":{"b":[{"apiToken":"t"}]}}`, `{"p\u0061ssword":"x"}`,
		`{"description":"password token secret"}`, `{"tokenUrl":"u","pass_word":"v"}`, `{"a" : "b", "clientSecret" : "s"}`,
		`{"x":"\"secret\":"}`, `{"İapikey":"v"}`, `{"a\\":"password"}`,
	} {
		f.Add(s)
	}
	extra := []*regexp.Regexp{regexp.MustCompile(`(?i)^pin$`)}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		for _, ex := range [][]*regexp.Regexp{nil, extra} {
			full, err := scanSecretsTree([]byte(s), ex)
			if err != nil || len(full) == 0 {
				continue
			}
			if !mayHoldSecrets([]byte(s), ex) {
				t.Errorf("%s: the prefilter skips %d finding(s), first %s", s, len(full), full[0].path)
			}
		}
	})
}
