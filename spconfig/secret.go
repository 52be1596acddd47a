package spconfig

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "REDACTED"

// Secret holds a credential. Every way of printing it (fmt verbs, %#v, JSON,
// slog) yields "REDACTED"; Reveal returns the value for the one place that
// needs it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "REDACTED".
func (Secret) String() string { return redacted }

// GoString returns "REDACTED".
func (Secret) GoString() string { return redacted }

// Format prints "REDACTED" for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON returns "REDACTED" as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "REDACTED" (YAML, TOML and text encoders).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue returns "REDACTED".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
