package spconfigtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The fake issues access tokens shaped like ISC's: an RS256 JWT
// (header.payload.signature) whose claims carry the tenant, the pod, the org,
// the identity behind the personal access token, the client id, the scopes,
// exp and jti. The key is made once per process, so tokens do not survive a
// restart of the fake (a client gets 401 and asks for a new token, as after a
// real tenant's key rotation); every fake tenant in one process shares it and
// a token names its tenant (org and tenant_id), so one tenant refuses
// another's tokens.

// ScopeAll is the scope of an ORG_ADMIN personal access token: every API.
const ScopeAll = "sp:scopes:all"

// Scopes the SP-Config endpoints accept (the spec's userAuth lists): reading
// needs sp:config:read or sp:config:manage, importing sp:config:manage.
var (
	scopesRead   = []string{"sp:config:read", "sp:config:manage"}
	scopesManage = []string{"sp:config:manage"}
)

// fakePod is the pod the fake reports; real ones look like "stg01-useast1".
const fakePod = "fake01-local"

var tokenKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("spconfigtest: token key: %v", err)) // cannot happen with crypto/rand
	}
	return k
})

// tokenKeyID is the kid of the tokens' header, derived from the public key.
var tokenKeyID = sync.OnceValue(func() string {
	h := sha256.Sum256(tokenKey().PublicKey.N.Bytes())
	return hex.EncodeToString(h[:8])
})

// tokenClaims are the claims of an access token, as ISC sets them.
type tokenClaims struct {
	TenantID            string   `json:"tenant_id"`
	Internal            bool     `json:"internal"`
	Pod                 string   `json:"pod"`
	Org                 string   `json:"org"`
	IdentityID          string   `json:"identity_id"`
	UserName            string   `json:"user_name"`
	StrongAuth          bool     `json:"strong_auth"`
	Authorities         []string `json:"authorities"`
	ClientID            string   `json:"client_id"`
	StrongAuthSupported bool     `json:"strong_auth_supported"`
	Scope               []string `json:"scope"`
	Exp                 int64    `json:"exp"`
	Jti                 string   `json:"jti"`
}

// allows reports whether the token's scopes include one of want.
func (c tokenClaims) allows(want []string) bool {
	return slices.Contains(c.Scope, ScopeAll) || slices.ContainsFunc(want, func(s string) bool { return slices.Contains(c.Scope, s) })
}

var b64 = base64.RawURLEncoding

// signToken returns the compact RS256 JWS of claims.
func signToken(c tokenClaims) string {
	head := b64.EncodeToString(mustJSON(map[string]string{"alg": "RS256", "typ": "JWT", "kid": tokenKeyID()}))
	input := head + "." + b64.EncodeToString(mustJSON(c))
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, tokenKey(), crypto.SHA256, digest[:])
	if err != nil {
		panic(fmt.Sprintf("spconfigtest: sign token: %v", err)) // cannot happen with a valid key
	}
	return input + "." + b64.EncodeToString(sig)
}

var errBadToken = errors.New("JWT is invalid")

// parseToken verifies a token's signature and returns its claims; expiry is
// the caller's to check.
func parseToken(tok string) (tokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenClaims{}, errBadToken
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return tokenClaims{}, errBadToken
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&tokenKey().PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return tokenClaims{}, errBadToken
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, errBadToken
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return tokenClaims{}, errBadToken
	}
	return c, nil
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return uuidString(b)
}

// tenantID is the tenant's id: a UUID derived from its name.
func tenantID(name string) string {
	h := sha256.Sum256([]byte("tenant/" + name))
	return uuidString(h[:16])
}

// tokenIdentityLocked is the identity behind the client's personal access
// token: the tenant's first identity, else a made-up "fake.admin".
func (t *Tenant) tokenIdentityLocked() Identity {
	if len(t.identities) > 0 {
		return t.identities[0]
	}
	h := sha256.Sum256([]byte("identity/" + t.name))
	return Identity{ID: hex.EncodeToString(h[:16]), Name: "fake.admin"}
}

// serveToken is POST /oauth/token: client credentials in the form
// (application/x-www-form-urlencoded or multipart/form-data), the query
// string or HTTP basic auth.
func (t *Tenant) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		t.methodNotAllowed(w, http.MethodPost)
		return
	}
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		err = r.ParseMultipartForm(1 << 20)
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if gt := r.Form.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": fmt.Sprintf("Unsupported grant type: %s", gt)})
		return
	}
	if id != t.opts.ClientID || secret != t.opts.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Bad credentials"})
		return
	}
	t.mu.Lock()
	now := t.opts.Now()
	who := t.tokenIdentityLocked()
	c := tokenClaims{
		TenantID: tenantID(t.name), Internal: true, Pod: fakePod, Org: t.name,
		IdentityID: who.ID, UserName: who.Name, Authorities: []string{"ORG_ADMIN"},
		ClientID: id, Scope: slices.Clone(t.opts.Scopes),
		Exp: now.Add(t.opts.TokenTTL).Unix(), Jti: randomUUID(), // never from IDSeed: token requests must not shift seeded ids
	}
	t.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": signToken(c), "token_type": "bearer", "expires_in": int(t.opts.TokenTTL.Seconds()),
		"scope": strings.Join(c.Scope, " "), "tenant_id": c.TenantID, "internal": c.Internal, "pod": c.Pod,
		"strong_auth_supported": c.StrongAuthSupported, "org": c.Org, "identity_id": c.IdentityID,
		"user_name": c.UserName, "strong_auth": c.StrongAuth, "jti": c.Jti,
	})
}

// authenticate checks a request's bearer token and returns its claims, or
// writes the 401 a real tenant sends and returns false. Call with t.mu held.
func (t *Tenant) authenticateLocked(w http.ResponseWriter, r *http.Request, now time.Time) (tokenClaims, bool) {
	authz := r.Header.Get("Authorization")
	tok, isBearer := strings.CutPrefix(authz, "Bearer ")
	if authz == "" || !isBearer {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "JWT validation failed: JWT is missing"})
		return tokenClaims{}, false
	}
	c, err := parseToken(strings.TrimSpace(tok))
	if err != nil || c.Org != t.name || c.TenantID != tenantID(t.name) || c.ClientID != t.opts.ClientID {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "JWT validation failed: JWT is invalid"})
		return tokenClaims{}, false
	}
	if now.Unix() >= c.Exp {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "JWT validation failed: JWT is expired"})
		return tokenClaims{}, false
	}
	return c, true
}
