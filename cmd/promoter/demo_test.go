package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoTellsTheStory runs the README's quick start, `promoter demo`,
// through the binary: the first promotion takes prod's baseline, its
// rollback gives prod's Get Worker Type its own value back, and the
// repository it leaves is whole; with --configuration-hub the ROLE goes
// through Configuration Hub and back.
func TestDemoTellsTheStory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"sp-config", nil, []string{
			"Baseline: 52 live object(s) of prod were taken into tenants/prod/ unchanged first.",
			"prod's Get Worker Type now: $workerType",
			"the reverted file counts as promoter's, so no conflict",
			"Demo finished",
		}},
		{"configuration-hub", []string{"--configuration-hub"}, []string{
			"is now owned by Imogene Mendez",
			"is owned by William Wilson again (deployed back through Configuration Hub)",
			"Demo finished",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// race: the demo's fake tenants serve in the process that promotes
			out, err := racePromoterCommand(t, nil, append([]string{"demo", "--dir", dir}, tc.args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("promoter demo: %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the demo does not say %q:\n%s", w, out)
				}
			}
			repo := filepath.Join(dir, "isc-config")
			log, err := exec.Command("git", "-C", repo, "log", "--format=%s").CombinedOutput()
			if err != nil || !strings.Contains(string(log), "Baseline of tenant prod (acme)") {
				t.Errorf("git log of the demo repository: %v\n%s", err, log)
			}
			if out, err := exec.Command("git", "-C", repo, "fsck", "--strict").CombinedOutput(); err != nil {
				t.Errorf("git fsck: %v\n%s", err, out)
			}
			if st, _ := exec.Command("git", "-C", repo, "status", "--porcelain").CombinedOutput(); len(st) != 0 {
				t.Errorf("the demo left the working tree dirty:\n%s", st)
			}
		})
	}
}
