package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// heapProfilesEnv names a folder where the process writes a heap profile
// each time its live heap reaches a new high (by 4 MB or more): a
// diagnostic for the memory rows of `go run ./bench` (README Performance).
const heapProfilesEnv = "PROMOTER_HEAP_PROFILES"

// startHeapProfiles starts the sampler of heapProfilesEnv when dir is set;
// stop ends it. The files are heap-<pid>-<live MB>-<ms since start>.pprof;
// the last one of a process is its peak. It samples every 5 ms.
func startHeapProfiles(dir string) (stop func()) {
	if dir == "" {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var high uint64
		t0 := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v >= high+4<<20 {
				high = v
				name := fmt.Sprintf("heap-%d-%04d-%06d.pprof", os.Getpid(), high>>20, time.Since(t0).Milliseconds())
				if f, err := os.Create(filepath.Join(dir, name)); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}
