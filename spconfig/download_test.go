package spconfig_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"promoter/spconfig"
	"promoter/spconfig/spconfigtest"
)

// cutRolls is a rand source whose first n fault rolls come out true, then
// none: the first n downloads are cut.
type cutRolls struct{ n int }

func (c *cutRolls) Uint64() uint64 {
	if c.n > 0 {
		c.n--
		return 0
	}
	return ^uint64(0)
}

// TestDownloadExportRestartsACutDownload: a download cut mid-body is
// downloaded again (bounded), fn sees every entry exactly once, and after
// too many cuts the error names the truncated download and the count.
func TestDownloadExportRestartsACutDownload(t *testing.T) {
	for _, tc := range []struct {
		cuts    int
		wantErr bool
	}{{0, false}, {1, false}, {2, false}, {3, true}} {
		t.Run(strings.Repeat("cut,", tc.cuts)+"end", func(t *testing.T) {
			exp, err := spconfigtest.SampleExport("dev")
			if err != nil {
				t.Fatal(err)
			}
			srv, err := spconfigtest.Start("127.0.0.1:0", spconfigtest.Options{Seed: exp,
				Faults: "truncate-download=0.5", Rand: rand.New(&cutRolls{n: tc.cuts})})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			c, err := spconfig.New(spconfig.Config{BaseURL: srv.URL, ClientID: "promoter", ClientSecret: "promoter-secret",
				Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			last := -1
			_, _, err = c.Export(context.Background(), spconfig.ExportPayload{}, spconfig.WaitOptions{MinInterval: time.Millisecond},
				func(i int, e spconfig.Entry) error {
					if i != last+1 {
						t.Errorf("entry index %d after %d", i, last)
					}
					last = i
					seen[e.Key().String()]++
					return nil
				})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "truncated download") || !strings.Contains(err.Error(), "cut 3 time(s)") {
					t.Fatalf("err = %v, want the truncated download named, cut 3 times", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("export with %d cut download(s): %v", tc.cuts, err)
			}
			if want := len(srv.Objects("")); len(seen) != want || want == 0 {
				t.Errorf("fn saw %d objects, want %d", len(seen), want)
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("fn saw %s %d times", k, n)
				}
			}
		})
	}
}
