package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promoter/config"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// BenchmarkRun profiles a `promoter run` that promotes and imports 1% changed
// objects across two tenants (issue 18); `go run ./bench` prints the tables.
//
//	BENCH_OBJECTS=20000 BENCH_PROFILE=/tmp/prof go test -run '^$' -bench Run -benchtime 1x ./pipeline

// runBenchEntry is object i of a tenant (ids differ per tenant, names do
// not) at revision rev; it refers to object i-1 by id.
func runBenchEntry(tenant byte, i, rev int) string {
	t := benchMix[i%len(benchMix)]
	id := func(j int) string { return fmt.Sprintf("%c%031x", tenant, j) }
	name := func(j int) string { return fmt.Sprintf("%s %06d", strings.ToLower(benchMix[j%len(benchMix)]), j) }
	ref := max(i-1, 0)
	pad := strings.Repeat("reviewed every quarter by the owner; ", 30)
	return fmt.Sprintf(`{"version":1,"self":{"name":"%s","id":"%s","type":"%s"},"object":{"id":"%s","name":"%s","created":"2024-05-13T19:45:31.367Z","description":"rev %d %s","related":{"type":"%s","id":"%s","name":"%s"},"enabled":true,"deleteThreshold":10.0}}`,
		name(i), id(i), t, id(i), name(i), rev, pad, benchMix[ref%len(benchMix)], id(ref), name(ref))
}

func runBenchDoc(tenant byte, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"version":1,"tenant":"%c","objects":[`, tenant)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(runBenchEntry(tenant, i, 1))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func BenchmarkRun(b *testing.B) {
	n := 5000
	if s := os.Getenv("BENCH_OBJECTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	dev, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: runBenchDoc('d', n), RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	prod, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: runBenchDoc('e', n), RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	b.Run(fmt.Sprintf("objects=%d/change1pct", n), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			cfg := fmt.Sprintf("repo:\n  path: ./repo\ntenants:\n  dev:\n    baseURL: %s\n    clientIDEnv: B_ID\n    clientSecretEnv: B_SECRET\n  prod:\n    baseURL: %s\n    clientIDEnv: B_ID\n    clientSecretEnv: B_SECRET\npipelines:\n  - name: bench\n    source: dev\n    target: prod\n    mode: auto\n    gate:\n      maxChanges: -1\n      allowWarnings: [\".*\"]\n", dev.URL, prod.URL)
			if err := os.WriteFile(filepath.Join(dir, "promotion.yaml"), []byte(cfg), 0o644); err != nil {
				b.Fatal(err)
			}
			r := runBenchRunner(b, dir)
			if _, err := r.Run(ctx, RunOptions{}); err != nil { // baseline
				b.Fatal(err)
			}
			for j := 5; j < n; j += 100 { // TRANSFORM, importable
				e, _ := spconfig.NewEntry([]byte(runBenchEntry('d', j, 2+i)))
				if err := dev.PutObject(e); err != nil {
					b.Fatal(err)
				}
			}
			// A fresh runner and store, as each `promoter run` process has:
			// nothing the setup run read is cached.
			r = runBenchRunner(b, dir)
			stop := profile(b, "run")
			b.StartTimer()
			res, err := r.Run(ctx, RunOptions{})
			b.StopTimer()
			stop()
			if err != nil {
				b.Fatal(err)
			}
			for _, st := range res.Steps {
				b.Logf("run: %-9s %v %s %s", st.Name, st.Duration.Round(1e6), st.Outcome, st.Detail)
			}
			if res.Outcome != OutcomeImported {
				b.Fatalf("outcome %s", res.Outcome)
			}
		}
	})
}

// runBenchRunner opens the runner of dir/promotion.yaml (the B_ID and
// B_SECRET variables resolved), as a promoter process would.
func runBenchRunner(b *testing.B, dir string) *Runner {
	c, err := config.Load(filepath.Join(dir, "promotion.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	sec, err := c.ResolveSecrets(func(k string) string {
		return map[string]string{"B_ID": "promoter", "B_SECRET": "promoter-secret"}[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	store, err := OpenStore(context.Background(), c, sec, nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewRunner(c, sec, "", store, Env{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}
