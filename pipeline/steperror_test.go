package pipeline

import (
	"errors"
	"testing"
)

// TestStepErrorNoStutter: a step's error is prefixed with the step's name
// unless it already starts with it (issue 17 item 11).
func TestStepErrorNoStutter(t *testing.T) {
	cause := errors.New("job FAILED")
	tests := []struct{ step, in, want string }{
		{"export", "export dev: job FAILED", "export dev: job FAILED"},
		{"import", "import on prod: job FAILED", "import on prod: job FAILED"},
		{"resume", "resume: gone", "resume: gone"},
		{"export", "job FAILED", "export: job FAILED"},
		{"export", "exported 3 objects of unknown type", "export: exported 3 objects of unknown type"},
		{"verify", "export target prod: job FAILED", "verify: export target prod: job FAILED"},
	}
	for _, tt := range tests {
		got := stepError(tt.step, wrapped{tt.in, cause})
		if got.Error() != tt.want {
			t.Errorf("stepError(%q, %q) = %q, want %q", tt.step, tt.in, got, tt.want)
		}
		if !errors.Is(got, cause) {
			t.Errorf("stepError(%q, %q) lost the cause", tt.step, tt.in)
		}
	}
}

type wrapped struct {
	msg   string
	cause error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.cause }
