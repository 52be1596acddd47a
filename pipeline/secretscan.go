package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"promoter/config"
	"promoter/jsonspan"
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
	secretNamesMu sync.RWMutex
	secretNames   = map[string]bool{}
)

const secretNamesMax = 20000 // keys that are data rather than field names stay out

// isSecretName applies the default names to a field name.
func isSecretName(k string) bool {
	secretNamesMu.RLock()
	v, ok := secretNames[k]
	secretNamesMu.RUnlock()
	if ok {
		return v
	}
	return learnSecretName(k)
}

// isSecretNameBytes is isSecretName of string(k), which it does not
// allocate for a name seen before.
func isSecretNameBytes(k []byte) bool {
	secretNamesMu.RLock()
	v, ok := secretNames[string(k)]
	secretNamesMu.RUnlock()
	if ok {
		return v
	}
	return learnSecretName(string(k))
}

func learnSecretName(k string) bool {
	secret := secretName(k)
	if len(k) <= 64 {
		secretNamesMu.Lock()
		if len(secretNames) < secretNamesMax {
			secretNames[k] = secret
		}
		secretNamesMu.Unlock()
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
	segs []config.PathSegment
}

// scanSecrets lists the credential-looking string values of an object:
// members whose key is a secret name (isSecretName) or matches the
// pipeline's extra patterns, holding a non-empty string that is not already
// masked. One pass over the bytes; the path of a finding is built only when
// there is one (issue 18: the scan runs on every entry of every export).
func scanSecrets(obj []byte, extra []*regexp.Regexp) ([]secretFinding, error) {
	if !mayHoldSecrets(obj, extra) {
		return nil, nil
	}
	return scanSecretsTree(obj, extra)
}

// scanSecretsTree is scanSecrets over the parsed tree.
func scanSecretsTree(obj []byte, extra []*regexp.Regexp) ([]secretFinding, error) {
	root, err := jsonspan.Parse(obj)
	if err != nil {
		return nil, err
	}
	var out []secretFinding
	jsonspan.Walk(root, func(path []config.PathSegment, n *jsonspan.Node) bool {
		if len(path) == 0 {
			return true
		}
		last := path[len(path)-1]
		if last.IsIndex || !isSecretKey(last.Key, extra) {
			return true
		}
		v, ok := n.Str(obj)
		if !ok || v == "" || strings.Trim(v, "*") == "" || v == redacted {
			return true
		}
		out = append(out, secretFinding{path: secretPath(path), segs: slices.Clone(path)})
		return false
	})
	return out, nil
}

// mayHoldSecrets reports whether some member key of obj, which must be
// valid JSON (an entry's object), is a secret key: only then can
// scanSecrets find anything, so the other objects (nearly all) skip the
// parse. It lexes the strings without building a tree; a key with an escape,
// or a document that is not an object, answers true (the full scan decides).
func mayHoldSecrets(obj []byte, extra []*regexp.Regexp) bool {
	if len(obj) == 0 || obj[0] != '{' {
		return true
	}
	for i := 0; i < len(obj); {
		q := bytes.IndexByte(obj[i:], '"')
		if q < 0 {
			return false
		}
		start := i + q + 1
		end := start
		for {
			k := bytes.IndexByte(obj[end:], '"')
			if k < 0 {
				return true // unterminated: not valid JSON
			}
			end += k
			bs := 0 // backslashes before the quote
			for j := end - 1; j >= start && obj[j] == '\\'; j-- {
				bs++
			}
			if bs%2 == 0 {
				break
			}
			end++
		}
		escaped := bytes.IndexByte(obj[start:end], '\\') >= 0
		i = end + 1
		for i < len(obj) && (obj[i] == ' ' || obj[i] == '\t' || obj[i] == '\n' || obj[i] == '\r') {
			i++
		}
		if i >= len(obj) || obj[i] != ':' {
			continue // a string value
		}
		if escaped {
			return true
		}
		if key := obj[start:end]; len(extra) == 0 && isSecretNameBytes(key) || len(extra) > 0 && isSecretKey(string(key), extra) {
			return true
		}
	}
	return false
}

// secretPath names a finding: $.key.key[0] (keys as they are, unquoted).
func secretPath(path []config.PathSegment) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range path {
		if s.IsIndex {
			fmt.Fprintf(&b, "[%d]", s.Index)
		} else {
			b.WriteString("." + s.Key)
		}
	}
	return b.String()
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
func secretScan(p *config.Pipeline, e spconfig.Entry) (spconfig.Entry, error) {
	sc := &p.SecretScan
	if sc.Action == config.ScanOff {
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
	if sc.Action == config.ScanRefuse || e.Signed() || spconfig.SignedType(e.Type()) {
		return e, fmt.Errorf("%s holds credential-looking values at %s; promoter will not commit them to git: remove them in the tenant, add strip rules, or set secretScan.action: redact", e.Key(), strings.Join(paths, ", "))
	}
	obj := []byte(e.Object())
	val, _ := json.Marshal(redacted)
	for _, f := range found {
		if obj, _, err = jsonspan.Replace(obj, f.segs, val); err != nil {
			return e, fmt.Errorf("redact %s in %s: %w", f.path, e.Key(), err)
		}
	}
	return e.WithObject(obj)
}
