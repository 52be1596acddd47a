package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"promoter/spconfig"
)

// Field names that hold credentials. SP-Config exports normally send them as
// null; a value means a credential would land in git. A name is compared in
// lower case without separators ("Admin_Password" is "adminpassword"): it is
// a secret when it contains one of secretStems (adminPassword, apiToken,
// client_secret, accessToken) or ends with one of secretEnds (adminPwd),
// unless it ends with one of notSecretEnds, which name facts about a
// credential rather than the credential (tokenUrl, passwordPolicy,
// passwordPolicyId, tokenType, passwordExpiration).
var (
	secretStems   = []string{"password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey", "signingkey", "encryptionkey", "sharedkey", "credential"}
	secretEnds    = []string{"pwd"}
	notSecretEnds = []string{
		"url", "uri", "endpoint", "host", "path",
		"policy", "policies", "id", "ids", "ref", "reference", "name", "names",
		"type", "types", "format", "mode", "method", "scope", "scopes", "audience",
		"expiration", "expiry", "expires", "expiresat", "expiresin", "ttl", "lifetime", "maxage",
		"time", "timeout", "interval", "seconds", "minutes", "hours", "days",
		"length", "count", "history", "strength", "complexity", "regex", "pattern",
		"attribute", "attributes", "attr", "field", "fields", "label", "description",
		"enabled", "required", "provider", "location", "rule", "template", "version", "date",
	}
)

// secretNames memoizes isSecretName: every object of an export repeats the
// same few dozen field names (issue 18).
var (
	secretNames     sync.Map // string -> bool
	secretNameCount atomic.Int64
)

const secretNamesMax = 20000 // keys that are data rather than field names stay out

// isSecretName applies the default names to a field name.
func isSecretName(k string) bool {
	if v, ok := secretNames.Load(k); ok {
		return v.(bool)
	}
	secret := secretName(k)
	if len(k) <= 64 && secretNameCount.Load() < secretNamesMax {
		if _, loaded := secretNames.LoadOrStore(k, secret); !loaded {
			secretNameCount.Add(1)
		}
	}
	return secret
}

func secretName(k string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(k) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	n := b.String()
	secret := false
	for _, s := range secretStems {
		if strings.Contains(n, s) {
			secret = true
			break
		}
	}
	for _, s := range secretEnds {
		if strings.HasSuffix(n, s) {
			secret = true
		}
	}
	if !secret {
		return false
	}
	for _, s := range notSecretEnds {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	return true
}

// secretFinding is one credential-looking value in an object.
type secretFinding struct {
	path string
	segs []PathSegment
}

// scanSecrets lists the credential-looking string values of an object:
// members whose key is a secret name (isSecretName) or matches the
// pipeline's extra patterns, holding a non-empty string that is not already
// masked. One pass over the bytes; the path of a finding is built only when
// there is one (issue 18: the scan runs on every entry of every export).
func scanSecrets(obj []byte, extra []*regexp.Regexp) ([]secretFinding, error) {
	sc := &secretScanner{b: obj, extra: extra}
	i := skipSpace(obj, 0)
	if i >= len(obj) {
		return nil, errJSONSyntax
	}
	_, err := sc.value(i)
	return sc.out, err
}

type secretScanner struct {
	b     []byte
	extra []*regexp.Regexp
	segs  []PathSegment // path of the value being scanned
	out   []secretFinding
}

// value scans the value starting at i (not a space) and returns its end.
func (sc *secretScanner) value(i int) (int, error) {
	b := sc.b
	switch b[i] {
	case '{':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for i < len(b) {
			ks := i
			ke, err := skipString(b, i)
			if err != nil {
				return 0, err
			}
			key, ok := fastString(b[ks:ke])
			if !ok {
				if err := json.Unmarshal(b[ks:ke], &key); err != nil {
					return 0, errJSONSyntax
				}
			}
			i = skipSpace(b, ke)
			if i >= len(b) || b[i] != ':' {
				return 0, errJSONSyntax
			}
			vs := skipSpace(b, i+1)
			if vs >= len(b) {
				return 0, errJSONSyntax
			}
			var ve int
			if b[vs] == '"' {
				if ve, err = skipValue(b, vs); err != nil {
					return 0, err
				}
				if isSecretKey(key, sc.extra) {
					var v string
					if json.Unmarshal(b[vs:ve], &v) == nil && v != "" && strings.Trim(v, "*") != "" && v != redacted {
						sc.found(PathSegment{Key: key})
					}
				}
			} else {
				sc.segs = append(sc.segs, PathSegment{Key: key})
				ve, err = sc.value(vs)
				sc.segs = sc.segs[:len(sc.segs)-1]
				if err != nil {
					return 0, err
				}
			}
			i = skipSpace(b, ve)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				return i + 1, nil
			}
			return 0, errJSONSyntax
		}
		return 0, errJSONSyntax
	case '[':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for n := 0; i < len(b); n++ {
			sc.segs = append(sc.segs, PathSegment{Index: n, IsIndex: true})
			ve, err := sc.value(i)
			sc.segs = sc.segs[:len(sc.segs)-1]
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, ve)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				if i >= len(b) {
					return 0, errJSONSyntax
				}
				continue
			}
			if i < len(b) && b[i] == ']' {
				return i + 1, nil
			}
			return 0, errJSONSyntax
		}
		return 0, errJSONSyntax
	}
	return skipValue(b, i)
}

// found records the member last of the current path as a finding.
func (sc *secretScanner) found(last PathSegment) {
	segs := append(append(make([]PathSegment, 0, len(sc.segs)+1), sc.segs...), last)
	var p strings.Builder
	p.WriteString("$")
	for _, s := range segs {
		if s.IsIndex {
			fmt.Fprintf(&p, "[%d]", s.Index)
		} else {
			p.WriteString(".")
			p.WriteString(s.Key)
		}
	}
	sc.out = append(sc.out, secretFinding{path: p.String(), segs: segs})
}

// fastString returns the text of a JSON string literal without escapes.
func fastString(lit []byte) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	body := lit[1 : len(lit)-1]
	for _, c := range body {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(body), true
}

const redacted = "REDACTED-BY-PROMOTER"

func isSecretKey(k string, extra []*regexp.Regexp) bool {
	if isSecretName(k) {
		return true
	}
	for _, re := range extra {
		if re.MatchString(k) {
			return true
		}
	}
	return false
}

// secretScan applies the pipeline's secret scan to an exported entry: with
// "refuse" it returns an error naming every field, with "redact" it replaces
// the values (never in signed objects, which are refused instead), with
// "off" it does nothing.
func secretScan(p *PipelineConfig, e spconfig.Entry) (spconfig.Entry, error) {
	sc := &p.SecretScan
	if sc.Action == ScanOff {
		return e, nil
	}
	found, err := scanSecrets(e.Object(), sc.KeyPatterns())
	if err != nil {
		return e, fmt.Errorf("scan %s for credentials: %w", e.Key(), err)
	}
	if len(found) == 0 {
		return e, nil
	}
	var paths []string
	for _, f := range found {
		paths = append(paths, f.path)
	}
	if sc.Action == ScanRefuse || e.Signed() || spconfig.SignedType(e.Type()) {
		return e, fmt.Errorf("%s holds credential-looking values at %s; promoter will not commit them to git: remove them in the tenant, add strip rules, or set secretScan.action: redact", e.Key(), strings.Join(paths, ", "))
	}
	obj := []byte(e.Object())
	val, _ := json.Marshal(redacted)
	for _, f := range found {
		if obj, _, err = replaceJSONPath(obj, f.segs, val); err != nil {
			return e, fmt.Errorf("redact %s in %s: %w", f.path, e.Key(), err)
		}
	}
	return e.WithObject(obj)
}
