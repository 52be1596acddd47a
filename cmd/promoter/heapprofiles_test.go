package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// PROMOTER_HEAP_PROFILES writes a heap profile (gzip-compressed pprof) once
// the live heap reaches a new high.
func TestHeapProfilesAreWrittenAtANewHigh(t *testing.T) {
	dir := t.TempDir()
	stop := startHeapProfiles(dir)
	keep := make([]byte, 32<<20)
	for i := range keep {
		keep[i] = byte(i)
	}
	runtime.GC() // the live heap metric is measured by a collection
	var files []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(files) == 0; time.Sleep(20 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "heap-*.pprof"))
	}
	runtime.KeepAlive(keep)
	stop() // no file is being written after this
	if len(files) == 0 {
		t.Fatal("no heap profile written with 32 MB live")
	}
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil || !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Fatalf("%s: want a gzip-compressed profile, got %d bytes, %v", files[len(files)-1], len(data), err)
	}
}
