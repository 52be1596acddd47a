package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDuplicateJSONKeysAreRefusedNamingFileObjectAndKey feeds duplicate
// keys, which readers take two ways, to the binary in the three places it
// reads objects: an export (the run fails naming the entry, the object and
// the key, and commits nothing), an object file a person committed (the run
// fails naming the file and the key) and a seed of the fake tenant (exit 2
// naming the file and the key).
func TestDuplicateJSONKeysAreRefusedNamingFileObjectAndKey(t *testing.T) {
	t.Parallel()
	t.Run("export", func(t *testing.T) {
		t.Parallel()
		shadow := func(body []byte) []byte {
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Errorf("fake export is not JSON: %v", err)
				return body
			}
			var objs []json.RawMessage
			json.Unmarshal(doc["objects"], &objs)
			for i, o := range objs {
				if strings.Contains(string(o), `"type":"TRANSFORM"`) {
					objs[i] = json.RawMessage(strings.Replace(string(o), `"object":{`, `"object":{"name":"Shadow",`, 1))
					break
				}
			}
			doc["objects"] = marshalRaw(objs)
			return marshalRaw(doc)
		}
		w := newWorld(t, worldOptions{dev: tenantSetup{wrap: rewriteDownloads(shadow)}})
		r := w.exec(nil, "run", "--config", w.cfg)
		msg := lastError(r.stderr)
		if r.code != exitRuntime || !strings.Contains(msg, `duplicate key "name" in $.object of TRANSFORM`) || !strings.Contains(msg, "objects[") {
			t.Fatalf("want exit 1 naming the entry, the object and the key, got %s", r)
		}
		if h := w.head(); h != "" {
			t.Errorf("an export with a duplicate key was committed: %s", w.git("log", "--oneline"))
		}
	})
	t.Run("object file", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{})
		w.mustPromoter(exitOK, "run", "--config", w.cfg)
		files, _ := filepath.Glob(filepath.Join(w.repo, "tenants", "prod", "TRANSFORM", "*.json"))
		if len(files) == 0 {
			t.Fatal("no TRANSFORM file in the target folder")
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(data), `"object": {`, `"object": {`+"\n    \"attributes\": {},", 1)
		if edited == string(data) {
			t.Fatalf("no object block in %s", files[0])
		}
		if err := os.WriteFile(files[0], []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		w.git("commit", "-qam", "a hand edit with a duplicate key")
		rel, _ := filepath.Rel(w.repo, files[0])
		r := w.exec(nil, "run", "--config", w.cfg)
		msg := lastError(r.stderr)
		if r.code != exitRuntime || !strings.Contains(msg, rel) || !strings.Contains(msg, `duplicate key "attributes" in $.object`) {
			t.Fatalf("want exit 1 naming %s and the key, got %s", rel, r)
		}
		if n := w.realImports(); n != 1 {
			t.Errorf("real imports = %d, want only the first", n)
		}
	})
	t.Run("seed", func(t *testing.T) {
		t.Parallel()
		data, err := os.ReadFile(filepath.Join(sharedSamples(t), "tenant-dev.export.json"))
		if err != nil {
			t.Fatal(err)
		}
		seed := filepath.Join(t.TempDir(), "seed.json")
		edited := strings.Replace(string(data), `"object": {`, `"object": {"name": "Shadow", `, 1)
		if err := os.WriteFile(seed, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		w := &e2e{t: t, dir: t.TempDir(), env: os.Environ()}
		r := w.exec(nil, "fake-tenant", "--listen", "127.0.0.1:0", "--seed", seed)
		if r.code != exitUsage || !strings.Contains(r.stderr, seed) || !strings.Contains(r.stderr, `duplicate key "name" in $.object`) {
			t.Fatalf("want exit 2 naming %s and the key, got %s", seed, r)
		}
	})
}
