package gitstore

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
)

// Benchmarks run only with -bench. The 50,000-object case takes minutes and
// runs only when GITSTORE_BENCH_LARGE=1 is set.
//
//	go test -run '^$' -bench Commit ./gitstore
//	GITSTORE_BENCH_LARGE=1 go test -run '^$' -bench Commit -benchtime 1x ./gitstore

var benchTypes = []string{"ACCESS_PROFILE", "ROLE", "SOURCE", "TRANSFORM", "RULE", "IDENTITY_PROFILE", "WORKFLOW", "TAG"}

// synthEntries makes n objects of ~1.5 KB spread over types; version
// changes the first pct percent of them.
func synthEntries(n, version, pct int) []spconfig.Entry {
	pad := strings.Repeat("x", 1300)
	es := make([]spconfig.Entry, n)
	for i := range es {
		v := 1
		if i*100 < n*pct {
			v = version
		}
		typ := benchTypes[i%len(benchTypes)]
		raw := fmt.Sprintf(`{"version":1,"self":{"name":"Object %d","id":"2c9180%026d","type":"%s"},"object":{"id":"2c9180%026d","name":"Object %d","description":"synthetic %s","v":%d,"pad":"%s"}}`, i, i, typ, i, i, pad, v, pad[:40])
		raw = strings.Replace(raw, `"pad":"`+pad[:40]+`"`, `"pad":"`+pad+`"`, 1)
		e, err := spconfig.NewEntry([]byte(raw))
		if err != nil {
			panic(err)
		}
		es[i] = e
	}
	return es
}

func BenchmarkCommit(b *testing.B) {
	needGit(b)
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			if n > 10000 && os.Getenv("GITSTORE_BENCH_LARGE") == "" {
				b.Skip("set GITSTORE_BENCH_LARGE=1 to run the 50,000-object case")
			}
			v1, v2 := synthEntries(n, 1, 0), synthEntries(n, 2, 1)
			var initial, change, cliInitial, cliChange time.Duration
			for i := 0; i < b.N; i++ {
				ctx := context.Background()
				dir := b.TempDir()
				r, err := Open(ctx, Options{Path: filepath.Join(dir, "repo")})
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if _, err := r.WriteTenant(ctx, "dev", benchTypes, v1, CommitSpec{Message: "initial"}); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := r.WriteTenant(ctx, "dev", benchTypes, v2, CommitSpec{Message: "1%"}); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				initial += t1.Sub(t0)
				change += t2.Sub(t1)

				// the git CLI on the same files
				b.StopTimer()
				cli := filepath.Join(dir, "cli")
				gitCmd(b, dir, "init", "-q", "-b", "main", cli)
				// No background auto-gc: it would be timed into the next
				// command and race with the folder's removal.
				gitCmd(b, cli, "config", "gc.auto", "0")
				if err := Split(&spconfig.ExportDocument{Objects: v1}, filepath.Join(cli, "tenants", "dev")); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t3 := time.Now()
				gitCmd(b, cli, "add", "-A")
				gitCmd(b, cli, "commit", "-q", "-m", "initial")
				t4 := time.Now()
				b.StopTimer()
				if err := Split(&spconfig.ExportDocument{Objects: v2}, filepath.Join(cli, "tenants", "dev")); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t5 := time.Now()
				gitCmd(b, cli, "add", "-A")
				gitCmd(b, cli, "commit", "-q", "-m", "1%")
				t6 := time.Now()
				cliInitial += t4.Sub(t3)
				cliChange += t6.Sub(t5)
				if out, err := exec.Command("git", "-C", r.Path(), "status", "--porcelain").Output(); err != nil || len(out) != 0 {
					b.Fatalf("working tree not clean after the commits: %v %s", err, out)
				}
			}
			nb := time.Duration(b.N)
			b.ReportMetric(float64(initial/nb)/1e6, "initial-ms")
			b.ReportMetric(float64(change/nb)/1e6, "change1pct-ms")
			b.ReportMetric(float64(cliInitial/nb)/1e6, "cli-initial-ms")
			b.ReportMetric(float64(cliChange/nb)/1e6, "cli-change1pct-ms")
			b.ReportMetric(float64(initial)/float64(cliInitial), "initial/cli")
			b.ReportMetric(float64(change)/float64(cliChange), "change/cli")
			b.Logf("\n%8s | %12s | %12s | %14s | %14s\n%8d | %12v | %12v | %14v | %14v",
				"objects", "initial", "git add+commit", "1% change", "git add+commit",
				n, (initial / nb).Round(time.Millisecond), (cliInitial / nb).Round(time.Millisecond),
				(change / nb).Round(time.Millisecond), (cliChange / nb).Round(time.Millisecond))
		})
	}
}
