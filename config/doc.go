// Package config owns promotion.yaml: its schema (the structs whose yaml tags
// are the file's keys), strict decoding with line numbers, defaults (the only
// place a default is set), validation, secret resolution and the JSON paths
// of mappings and strip rules. Secrets never live in the file: it names
// environment variables or files that hold them. Every other package reads a
// *Config; none parses the file itself.
package config
