package diff

import (
	"fmt"
	"syscall"
	"testing"

	"promoter/spconfig"
)

// benchSets builds n objects of a few realistic shapes and a copy in which
// every 100th object changed (1%).
func benchSets(b *testing.B, n int, cross bool) (old, new []spconfig.Entry) {
	b.Helper()
	for i := range n {
		name := fmt.Sprintf("Object %05d", i)
		id := fmt.Sprintf("2c9180%026x", i)
		obj := func(v string) string {
			return fmt.Sprintf(`{"id":%q,"name":%q,"created":"2024-01-01T00:00:00Z","modified":"2024-01-02T00:00:00Z","description":%q,`+
				`"owner":{"type":"IDENTITY","id":"2c91808568c529c60168cca6f90c1313","name":"William Wilson"},"priority":10,`+
				`"identityAttributeConfig":{"enabled":true,"attributeTransforms":[{"identityAttributeName":"uid","transformDefinition":{"type":"reference","attributes":{"id":"Primary Account Name"}}},`+
				`{"identityAttributeName":"email","transformDefinition":{"type":"accountAttribute","attributes":{"attributeName":"mail","sourceName":"AD","sourceId":"2c91808363dae20e0163dbef5a7d2de9"}}}]},`+
				`"features":["PROVISIONING","PASSWORD","ENABLE"]}`, id, name, v)
		}
		old = append(old, entry(b, "IDENTITY_PROFILE", name, id, obj("same")))
		if cross {
			id = fmt.Sprintf("2c9181%026x", i) // the other tenant's id
		}
		v := "same"
		if i%100 == 0 {
			v = "changed"
		}
		new = append(new, entry(b, "IDENTITY_PROFILE", name, id, obj(v)))
	}
	return old, new
}

// BenchmarkCompare50k: 50,000 objects, 1% changed, within one tenant (the
// identical-bytes shortcut applies to the 99%) and across tenants (ids
// differ, so every object is normalised on both sides).
func BenchmarkCompare50k(b *testing.B) {
	for _, o := range []Options{{}, {CrossTenant: true}} {
		b.Run(fmt.Sprintf("cross=%v", o.CrossTenant), func(b *testing.B) {
			old, new := benchSets(b, 50_000, o.CrossTenant)
			cpu0 := cpuTime()
			for b.Loop() {
				r, err := Compare(old, new, o)
				if err != nil {
					b.Fatal(err)
				}
				if got := totals(r.Counts()).Modified; got != 500 {
					b.Fatalf("modified = %d, want 500", got)
				}
			}
			// CPU time of the whole process per op: a fairer figure than
			// ns/op on a loaded machine (it counts all cores' work).
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
