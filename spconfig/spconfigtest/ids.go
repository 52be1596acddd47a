package spconfigtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Ids. Job ids are UUIDs (SailPoint's examples show them so). Object ids take
// the form a real tenant gives that type: 32 hex digits for the types that
// come from IdentityNow's older services (sources, rules, identity profiles,
// roles, access profiles, ...; identities too), a UUID for the rest, as the
// sample tenants show. Ids are random unless Options.IDSeed is set.

// hexIDTypes are the object types whose ids are 32 hex digits.
var hexIDTypes = map[string]bool{
	"ACCESS_PROFILE": true, "ATTR_SYNC_SOURCE_CONFIG": true, "CAMPAIGN_FILTER": true, "CONNECTOR_RULE": true,
	"IDENTITY_PROFILE": true, "LIFECYCLE_STATE": true, "PASSWORD_POLICY": true, "ROLE": true, "RULE": true,
	"SERVICE_DESK_INTEGRATION": true, "SOURCE": true, "IDENTITY": true,
	"CONNECTOR_SCHEMA": true, "ACCOUNT_CORRELATION_CONFIG": true,
}

// idBytesLocked returns 16 fresh id bytes: random, or derived from IDSeed,
// the tenant name and the counter (which the state file keeps).
func (t *Tenant) idBytesLocked() []byte {
	t.counter++
	if t.opts.IDSeed == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		return b
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", t.opts.IDSeed, t.name, t.counter))
	return h[:16]
}

// uuidString formats 16 bytes as a version 4 UUID.
func uuidString(b []byte) string {
	u := make([]byte, 16)
	copy(u, b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newUUIDLocked returns a fresh UUID (job ids, token ids).
func (t *Tenant) newUUIDLocked() string { return uuidString(t.idBytesLocked()) }

// newHexIDLocked returns a fresh id of 32 hex digits.
func (t *Tenant) newHexIDLocked() string { return hex.EncodeToString(t.idBytesLocked()) }

// newJobIDLocked returns a fresh job id.
func (t *Tenant) newJobIDLocked() string { return t.newUUIDLocked() }

// newObjectIDLocked returns a fresh id for a new object of type typ.
func (t *Tenant) newObjectIDLocked(typ string) string {
	if hexIDTypes[typ] {
		return t.newHexIDLocked()
	}
	return t.newUUIDLocked()
}
