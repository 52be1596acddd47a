package spconfigtest

import (
	"embed"
	"encoding/json"
	"fmt"
)

//go:embed samples/*.json
var sampleFS embed.FS

// Identity is a person in a tenant; identities are not exported but objects
// refer to them (owners), and import resolves those references by name.
type Identity struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SampleExport returns the embedded export document of sample tenant "dev"
// (acme-sb) or "prod" (acme), byte-identical to ../shared/samples.
func SampleExport(tenant string) ([]byte, error) {
	return sampleFS.ReadFile("samples/tenant-" + tenant + ".export.json")
}

// SampleIdentities returns the embedded identity list of sample tenant "dev" or "prod".
func SampleIdentities(tenant string) ([]Identity, error) {
	b, err := sampleFS.ReadFile("samples/tenant-" + tenant + ".identities.json")
	if err != nil {
		return nil, err
	}
	var ids []Identity
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("sample identities %s: %w", tenant, err)
	}
	return ids, nil
}
