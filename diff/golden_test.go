package diff

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./diff -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (-want +got); run go test ./diff -update if the change is intended:\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

func TestGoldenSamples(t *testing.T) {
	r := sampleResult(t)
	tests := []struct {
		file   string
		render func(*bytes.Buffer) error
	}{
		{"samples.txt", func(b *bytes.Buffer) error {
			return RenderText(b, r, TextOptions{Title: "Promotion dev -> prod"})
		}},
		{"samples-color.txt", func(b *bytes.Buffer) error {
			return RenderText(b, r, TextOptions{Title: "Promotion dev -> prod", Color: true})
		}},
		{"samples.md", func(b *bytes.Buffer) error {
			return RenderMarkdown(b, r, MarkdownOptions{Title: "Promotion dev -> prod"})
		}},
		{"samples.json", func(b *bytes.Buffer) error { return RenderJSON(b, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, b.Bytes())
		})
	}
}
