package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"promoter/gitstore"
)

// An in-flight marker is written the moment a real import job is accepted and
// removed once the import is recorded. It lives inside .git (never committed,
// never pushed) so the next run on this repository finds an import that a
// crashed run started, and resumes it instead of importing again.

func inflightPath(repo, target string) string {
	return filepath.Join(repo, ".git", "promoter", "inflight-"+target+".json")
}

func writeInflight(repo string, rec *Record) error {
	path := inflightPath(repo, rec.Target)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("record in-flight import: %w", err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record in-flight import: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("record in-flight import: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("record in-flight import: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record in-flight import: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("record in-flight import: %w", err)
	}
	return nil
}

func readInflight(repo, target string) (*Record, bool, error) {
	data, err := os.ReadFile(inflightPath(repo, target))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read in-flight import marker: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil || rec.Target == "" {
		return nil, false, fmt.Errorf("in-flight import marker %s is unreadable; check the tenant's import jobs, then delete the file", inflightPath(repo, target))
	}
	return &rec, true, nil
}

func clearInflight(repo, target string) error {
	err := os.Remove(inflightPath(repo, target))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clear in-flight import marker: %w", err)
	}
	return nil
}

func hashOf(s string) gitstore.Hash { return gitstore.NewHash(s) }
