package spconfigtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"sync"
)

// The fake signs RULE and CONNECTOR_RULE objects the way SailPoint does: one
// key for every tenant, so an object exported from one fake tenant verifies in
// any other. The key is derived from a fixed seed so it is the same in every
// process and every build.
const signingSeed = "promoter fake ISC tenant: SP-Config object signing key v1"

// jwsHeader is the protected header of every signature: {"alg":"ES256"}.
var jwsHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`))

var signingKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	n := elliptic.P256().Params().N
	for i := 0; ; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", signingSeed, i))
		d := new(big.Int).SetBytes(h[:])
		if d.Sign() == 0 || d.Cmp(n) >= 0 {
			continue
		}
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), h[:])
		if err != nil {
			continue
		}
		return k
	}
})

// SigningKey returns the public half of the key all fake tenants sign with.
func SigningKey() *ecdsa.PublicKey { return &signingKey().PublicKey }

// SignObject returns the jwsHeader and jwsSignature of a compact object: an
// ES256 JWS (RFC 7515, detached) over the exact object bytes. Signatures are
// deterministic (RFC 6979), so exporting an unchanged object twice gives the
// same bytes.
func SignObject(object []byte) (header, signature string) {
	input := jwsHeader + "." + base64.RawURLEncoding.EncodeToString(object)
	digest := sha256.Sum256([]byte(input))
	der, err := signingKey().Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		panic(fmt.Sprintf("spconfigtest: signing failed: %v", err)) // cannot happen with a valid P-256 key
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		panic(fmt.Sprintf("spconfigtest: signature encoding: %v", err))
	}
	raw := make([]byte, 64)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return jwsHeader, base64.RawURLEncoding.EncodeToString(raw)
}

// VerifyObject checks that signature is a valid ES256 JWS of the fake's key
// over header and the exact object bytes.
func VerifyObject(object []byte, header, signature string) error {
	if header == "" || signature == "" {
		return errors.New("object is not signed (jwsHeader or jwsSignature missing)")
	}
	h, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return fmt.Errorf("jwsHeader is not base64url: %w", err)
	}
	if string(h) != `{"alg":"ES256"}` {
		return fmt.Errorf("jwsHeader %s: only ES256 is accepted", h)
	}
	raw, err := base64.RawURLEncoding.DecodeString(signature)
	if err != nil || len(raw) != 64 {
		return errors.New("jwsSignature is not a base64url ES256 signature")
	}
	input := header + "." + base64.RawURLEncoding.EncodeToString(object)
	digest := sha256.Sum256([]byte(input))
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	if !ecdsa.Verify(SigningKey(), digest[:], r, s) {
		return errors.New("jwsSignature does not match the object")
	}
	return nil
}
