package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"promoter/gitstore"
	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// Benchmarks for profiling the export flow in process (issue 9); the tables
// come from `go run ./bench`. They run only with -bench:
//
//	go test -run '^$' -bench Export -benchtime 1x -cpuprofile cpu.out ./pipeline
//	BENCH_OBJECTS=50000 go test -run '^$' -bench Export -benchtime 1x ./pipeline

var benchMix = []string{"ACCESS_PROFILE", "ACCESS_PROFILE", "ACCESS_PROFILE", "ROLE", "ROLE", "TRANSFORM", "SOURCE", "RULE", "WORKFLOW", "TAG"}

// benchEntry is object i at revision rev, about 1.5 KB.
func benchEntry(i, rev int) string {
	t := benchMix[i%len(benchMix)]
	name := fmt.Sprintf("%s %06d", strings.ToLower(t), i)
	pad := strings.Repeat("reviewed every quarter by the owner; ", 34)
	return fmt.Sprintf(`{"version":1,"self":{"name":"%s","id":"id%030d","type":"%s"},"object":{"id":"id%030d","name":"%s","created":"2024-05-13T19:45:31.367Z","modified":"2024-07-11T19:20:19.676Z","description":"rev %d %s","owner":{"type":"IDENTITY","id":"ident0001","name":"owner.01"},"enabled":true,"deleteThreshold":10.0}}`,
		name, i, t, i, name, rev, pad)
}

func benchDoc(n int, rev func(i int) int) []byte {
	var b strings.Builder
	b.WriteString(`{"version":1,"tenant":"dev","objects":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(benchEntry(i, rev(i)))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func benchRunner(b *testing.B, dir, url string) *Runner {
	cfgPath := filepath.Join(dir, "promotion.yaml")
	cfg := fmt.Sprintf("repo:\n  path: ./repo\ntenants:\n  dev:\n    baseURL: %s\n    clientIDEnv: B_ID\n    clientSecretEnv: B_SECRET\n  prod:\n    baseURL: %s\n    clientIDEnv: B_ID\n    clientSecretEnv: B_SECRET\npipelines:\n  - name: bench\n    source: dev\n    target: prod\n", url, url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	return runBenchRunner(b, dir)
}

func BenchmarkExport(b *testing.B) {
	n := 10000
	if s := os.Getenv("BENCH_OBJECTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	srv, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: benchDoc(n, func(int) int { return 1 }), RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	for _, step := range []string{"initial", "change1pct", "unchanged"} {
		b.Run(fmt.Sprintf("objects=%d/%s", n, step), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				r := benchRunner(b, dir, srv.URL)
				if step != "initial" {
					if _, err := r.Export(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if step == "change1pct" {
					for j := 0; j < n; j += 100 {
						e, _ := spconfig.NewEntry([]byte(benchEntry(j, 2+i)))
						if err := srv.PutObject(e); err != nil {
							b.Fatal(err)
						}
					}
				}
				head, _ := r.Store.Head()
				stop := profile(b, step)
				b.StartTimer()
				res, err := r.Export(ctx)
				b.StopTimer()
				stop()
				if err != nil {
					b.Fatal(err)
				}
				for _, st := range res.Steps {
					b.Logf("%s: %-9s %v %s", step, st.Name, st.Duration.Round(1e6), st.Outcome)
				}
				after, _ := r.Store.Head()
				if (step == "unchanged") != (head == after) {
					b.Fatalf("%s: head %s -> %s (%s)", step, head, after, res.Outcome)
				}
				if step == "change1pct" { // restore revision 1 for the next round
					for j := 0; j < n; j += 100 {
						e, _ := spconfig.NewEntry([]byte(benchEntry(j, 1)))
						_ = srv.PutObject(e)
					}
				}
				b.StartTimer()
			}
		})
	}
}

var _ = gitstore.TenantDir

// profile writes a CPU profile of the timed part to $BENCH_PROFILE-<step>.out
// when BENCH_PROFILE is set (go test's -cpuprofile also covers the setup).
func profile(b *testing.B, step string) func() {
	base := os.Getenv("BENCH_PROFILE")
	if base == "" {
		return func() {}
	}
	f, err := os.Create(base + "-" + step + ".out")
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	// allocations of the step: pprof -base <base>-<step>-allocs0.out <base>-<step>-allocs1.out
	allocs := func(n int) {
		runtime.GC()
		if a, err := os.Create(fmt.Sprintf("%s-%s-allocs%d.out", base, step, n)); err == nil {
			pprof.Lookup("allocs").WriteTo(a, 0)
			a.Close()
		}
	}
	allocs(0)
	return func() { pprof.StopCPUProfile(); f.Close(); allocs(1) }
}
