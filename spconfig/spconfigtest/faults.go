package spconfigtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"promoter/spconfig"
)

// faults is a parsed fault spec.
type faults struct {
	spec         string
	status       map[int]float64 // HTTP status -> probability per API request
	failExport   float64
	failImport   float64
	failUpload   float64
	failDeploy   float64
	hangExport   float64
	hangImport   float64
	truncate     float64
	slowDownload time.Duration
	reject       []rejectKey // reject-object=TYPE:NAME, in the order given
}

// rejectKey names an object a real import refuses (fault reject-object).
type rejectKey struct{ Type, Name string }

func (k rejectKey) String() string { return k.Type + ":" + k.Name }

// parseFaults parses "429=0.1,500=0.05,503=0.1,fail-export=1,fail-import=1,
// slow-download=2s,truncate-download=0.5,hang-export=1,hang-import=1,
// reject-object=SOURCE:Active Directory". reject-object may repeat; the name is
// everything after the first colon (names with a comma cannot be given).
func parseFaults(spec string) (faults, error) {
	f := faults{spec: spec, status: map[int]float64{}}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return faults{}, fmt.Errorf("fault %q: want NAME=VALUE, e.g. 429=0.1 or slow-download=2s", part)
		}
		if k == "reject-object" {
			typ, name, ok := strings.Cut(v, ":")
			if !ok || name == "" || !spconfig.Exportable(typ) {
				return faults{}, fmt.Errorf("fault %q: want reject-object=TYPE:NAME with one of the %d exportable types, e.g. reject-object=SOURCE:Active Directory", part, len(spconfig.ExportableTypes()))
			}
			f.reject = append(f.reject, rejectKey{typ, name})
			continue
		}
		if k == "slow-download" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return faults{}, fmt.Errorf("fault %q: want a duration such as 2s", part)
			}
			f.slowDownload = d
			continue
		}
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 1 {
			return faults{}, fmt.Errorf("fault %q: want a probability between 0 and 1", part)
		}
		switch k {
		case "fail-export":
			f.failExport = p
		case "fail-import":
			f.failImport = p
		case "fail-upload":
			f.failUpload = p
		case "fail-deploy":
			f.failDeploy = p
		case "hang-export":
			f.hangExport = p
		case "hang-import":
			f.hangImport = p
		case "truncate-download":
			f.truncate = p
		default:
			code, err := strconv.Atoi(k)
			if err != nil || code < 400 || code > 599 {
				return faults{}, fmt.Errorf("fault %q: unknown fault (want an HTTP status 400-599, fail-export, fail-import, fail-upload, fail-deploy, hang-export, hang-import, slow-download, truncate-download or reject-object)", part)
			}
			f.status[code] = p
		}
	}
	return f, nil
}

// rejects reports whether a real import refuses o (fault reject-object), and
// the fault that names it. The name matches the object's name or its
// self.name.
func (f faults) rejects(o *object) (string, bool) {
	for _, k := range f.reject {
		if k.Type == o.Type && (k.Name == o.Key.Name || k.Name == o.SelfName) {
			return k.String(), true
		}
	}
	return "", false
}

func (f faults) codes() []int {
	var out []int
	for c := range f.status {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// SetFaults replaces the fault spec at run time: a comma list of
// CODE=probability (the response status for any SP-Config request; 429
// carries Retry-After), fail-export=p and fail-import=p (the job ends FAILED),
// fail-upload=p and fail-deploy=p (a Configuration Hub upload or deploy ends
// FAILED), hang-export=p and hang-import=p (the job stays IN_PROGRESS),
// slow-download=D (downloads wait D first) and truncate-download=p (the
// download body is cut in half) and reject-object=TYPE:NAME (a real import
// refuses that object and halts there, the objects before it imported; a
// preview does not see it; a Configuration Hub deploy of it fails whole). ""
// turns faults off.
func (t *Tenant) SetFaults(spec string) error {
	f, err := parseFaults(spec)
	if err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	t.mu.Lock()
	t.faults = f
	t.mu.Unlock()
	return nil
}

// rollLocked reports whether an event of probability p happens.
func (t *Tenant) rollLocked(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	return t.rnd.Float64() < p
}
