package gitstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"promoter/spconfig"
)

// maxNameBytes is the longest encoded base name before it is cut and given a
// hash suffix (DESIGN section 3).
const maxNameBytes = 150

// safeByte reports whether b may appear unencoded in a file name.
func safeByte(b byte) bool {
	return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' ||
		b == ' ' || b == '.' || b == '_' || b == '-'
}

// windowsDevices are names Windows reserves whatever the extension.
var windowsDevices = map[string]bool{
	"con": true, "prn": true, "aux": true, "nul": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true, "com6": true, "com7": true, "com8": true, "com9": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true, "lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true,
}

// EncodeName turns an object or type name into a safe path component: every
// byte outside [A-Za-z0-9 ._-] becomes %XX, leading dots are encoded, a
// Windows device name gets its first letter encoded, and a name longer than
// 150 bytes is cut and suffixed with "~" and a hash of the whole name. The
// result is never empty, never "." or "..", and never contains "/" or "\".
func EncodeName(name string) string {
	if plainName(name) { // nearly every name: nothing to encode
		return checkedName(name)
	}
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(name) + 8)
	leading := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if leading && c == '.' || !safeByte(c) {
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
			continue
		}
		leading = false
		b.WriteByte(c)
	}
	return checkedName(b.String())
}

// plainName reports whether EncodeName leaves every byte of name as it is:
// all safe, no leading dot.
func plainName(name string) bool {
	if name == "" || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !safeByte(name[i]) {
			return false
		}
	}
	return true
}

// checkedName is the rest of EncodeName on the escaped name s: the empty
// name, Windows devices, the length limit.
func checkedName(s string) string {
	if s == "" {
		return "_"
	}
	stem, _, _ := strings.Cut(s, ".")
	// device names have at most 4 bytes (before trailing spaces)
	if t := strings.TrimRight(stem, " "); len(t) <= 4 && windowsDevices[strings.ToLower(t)] {
		s = fmt.Sprintf("%%%02X", s[0]) + s[1:]
	}
	if len(s) > maxNameBytes {
		cut := maxNameBytes - 9
		// never split a %XX escape
		if i := strings.LastIndexByte(s[:cut], '%'); i >= 0 && i > cut-3 {
			cut = i
		}
		s = s[:cut] + "~" + shortHash(s)
	}
	return s
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// baseName is the unencoded file name of an entry: its cross-tenant key.
func baseName(k spconfig.Key) string {
	if k.Scope != "" {
		return k.Scope + " - " + k.Name
	}
	return k.Name
}

// FileNames returns the tenant-relative path "<TYPE>/<file-name>.json" of
// every entry, parallel to entries. Names derive from the cross-tenant key, so
// the same object gets the same path in every tenant folder; names equal under
// case folding, or repeated within a type, get a "~" suffix hashed from the
// key (and from self.id when the keys are equal). The result is the same for
// the same set of entries in any order, and no two paths are equal, even
// under case folding.
func FileNames(entries []spconfig.Entry) ([]string, error) {
	return fileNames(entries, nil)
}

// fileNames is FileNames where the lower-cased paths in taken are already
// used by entries that are not passed (a streamed snapshot passes only the
// entries whose names collide; the others keep their plain names).
func fileNames(entries []spconfig.Entry, taken map[string]bool) ([]string, error) {
	type cand struct {
		i    int
		dir  string
		name string // encoded base name
		key  spconfig.Key
	}
	cands := make([]cand, len(entries))
	groups := make(map[string][]int, len(entries))
	dirs := map[string]string{} // type -> EncodeName(type): a few types, many entries
	for i, e := range entries {
		if e.Self.Type == "" {
			return nil, fmt.Errorf("file name of entry %d: entry has no self.type", i)
		}
		k := e.Key()
		dir, ok := dirs[e.Self.Type]
		if !ok {
			dir = EncodeName(e.Self.Type)
			dirs[e.Self.Type] = dir
		}
		c := cand{i: i, dir: dir, name: EncodeName(baseName(k)), key: k}
		cands[i] = c
		g := strings.ToLower(c.dir + "/" + c.name)
		groups[g] = append(groups[g], i)
	}
	out := make([]string, len(entries))
	used := make(map[string]bool, len(entries)+len(taken))
	for p := range taken {
		used[p] = true
	}
	var collided []string
	for g, idx := range groups {
		if len(idx) == 1 {
			c := cands[idx[0]]
			out[c.i] = c.dir + "/" + c.name + ".json"
			used[g+".json"] = true // g is the lower-cased path without ".json"
			continue
		}
		collided = append(collided, g)
	}
	// Resolve collisions in a deterministic order.
	slices.Sort(collided)
	for _, g := range collided {
		idx := groups[g]
		sum := func(i int) string {
			h := sha256.Sum256(entries[i].Raw)
			return hex.EncodeToString(h[:])
		}
		slices.SortFunc(idx, func(a, b int) int {
			ka, kb := cands[a].key, cands[b].key
			if ka != kb {
				if ka.Less(kb) {
					return -1
				}
				return 1
			}
			if c := strings.Compare(entries[a].Self.ID, entries[b].Self.ID); c != 0 {
				return c
			}
			return strings.Compare(sum(a), sum(b))
		})
		keyCount := map[spconfig.Key]int{}
		for _, i := range idx {
			keyCount[cands[i].key]++
		}
		for _, i := range idx {
			c := cands[i]
			k := c.key
			suffix := shortHash(k.Type, k.Scope, k.Name)
			if keyCount[k] > 1 {
				suffix = shortHash(k.Type, k.Scope, k.Name, entries[i].Self.ID)
			}
			p := c.dir + "/" + c.name + "~" + suffix + ".json"
			for n := 2; used[strings.ToLower(p)]; n++ {
				p = c.dir + "/" + c.name + "~" + suffix + "-" + fmt.Sprint(n) + ".json"
			}
			used[strings.ToLower(p)] = true
			out[i] = p
		}
	}
	return out, nil
}

// EncodeFile returns the file content of an entry: its exact bytes indented
// with two spaces and a trailing newline. Key order and number literals are
// kept; compacting the file gives back e.Raw.
func EncodeFile(e spconfig.Entry) []byte {
	return appendFile(make([]byte, 0, len(e.Raw)+len(e.Raw)/2+1), e)
}

// appendFile appends EncodeFile(e) to dst.
func appendFile(dst []byte, e spconfig.Entry) []byte {
	if len(e.Object()) > 0 { // a parsed entry: Raw is valid compact JSON
		if out, ok := indentCompact(dst, e.Raw); ok {
			return append(out, '\n')
		}
	}
	b := bytes.NewBuffer(dst)
	b.Grow(len(e.Raw) + len(e.Raw)/4 + 1)
	if err := json.Indent(b, e.Raw, "", "  "); err != nil {
		// Raw of a parsed Entry is valid JSON; keep the bytes rather than lose them.
		b.Truncate(len(dst))
		b.Write(e.Raw)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// entryFileHash is BlobID(EncodeFile(e)), with the file built in buf, which it
// returns (grown) for the next call: comparing an export with the stored
// files makes no garbage for the objects that did not change.
func entryFileHash(e spconfig.Entry, buf []byte) (Hash, []byte) {
	buf = appendFile(buf[:0], e)
	return BlobID(buf), buf
}

// DecodeFile parses an object file. Errors name path:line:column.
func DecodeFile(p string, data []byte) (spconfig.Entry, error) {
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		var raw json.RawMessage
		if uerr := json.Unmarshal(data, &raw); uerr != nil {
			err = uerr
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return spconfig.Entry{}, fmt.Errorf("object file %s:%d:%d: %v: fix the JSON or restore the file with git", p, line, col, err)
		}
		return spconfig.Entry{}, fmt.Errorf("object file %s: %w: fix the JSON or restore the file with git", p, err)
	}
	e, err := spconfig.NewEntry(buf.Bytes())
	var dup *spconfig.DuplicateKeyError
	if errors.As(err, &dup) {
		return spconfig.Entry{}, fmt.Errorf("object file %s: %w, or restore the file with git", p, err)
	}
	if err != nil {
		return spconfig.Entry{}, fmt.Errorf("object file %s:1:1: %w: an object file holds one whole export entry {version, self, object}", p, err)
	}
	return e, nil
}

func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off > 0 {
		off-- // SyntaxError.Offset is just after the bad byte
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = int(off) - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// SemanticEqual reports whether two entries are the same configuration: equal
// after dropping the volatile object fields (spconfig.VolatileFields: created,
// modified, runtime statistics, ...) and the JWS signature fields, ignoring
// key order. Number literals compare
// as written.
func SemanticEqual(a, b spconfig.Entry) bool {
	if bytes.Equal(a.Raw, b.Raw) {
		return true
	}
	if a.Self != b.Self {
		return false
	}
	va, ok1 := semanticValue(a)
	vb, ok2 := semanticValue(b)
	return ok1 && ok2 && reflect.DeepEqual(va, vb)
}

func semanticValue(e spconfig.Entry) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(e.Raw))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil, false
	}
	delete(m, "jwsHeader")
	delete(m, "jwsSignature")
	if o, ok := m["object"].(map[string]any); ok {
		for f := range o {
			if spconfig.Volatile(e.Self.Type, f) {
				delete(o, f)
			}
		}
	}
	return m, true
}

// checkEntries checks that every entry of a document is a parsed export
// entry (as spconfig.NewEntry makes them), so a bad one is refused before
// anything is written. Errors name the entry index.
func checkEntries(entries []spconfig.Entry) error {
	for i, e := range entries {
		var err error
		switch {
		case e.IsThin():
			err = errors.New("entry is thin (it has no bytes): internal error, load it before writing it")
		case len(e.Raw) < 2 || e.Raw[0] != '{' || e.Raw[len(e.Raw)-1] != '}':
			err = errors.New("entry is not a JSON object")
		case e.Self.Type == "":
			err = errors.New("entry has no self.type")
		case e.Self.Name == "" && !spconfig.Singleton(e.Self.Type):
			err = errors.New("entry has no self.name")
		case len(e.Object()) == 0:
			err = errors.New("entry has no object (build entries with spconfig.NewEntry)")
		}
		if err != nil {
			return &spconfig.DecodeError{Index: i, Self: e.Self, Err: err}
		}
	}
	return nil
}

// Split writes every object of doc to dir/<TYPE>/<file-name>.json. A bad
// document is refused, naming the entry index, before anything is written.
func Split(doc *spconfig.ExportDocument, dir string) error {
	if doc == nil {
		return errors.New("split: no document")
	}
	if err := checkEntries(doc.Objects); err != nil {
		return fmt.Errorf("split %s: %w; nothing was written", dir, err)
	}
	names, err := FileNames(doc.Objects)
	if err != nil {
		return fmt.Errorf("split %s: %w; nothing was written", dir, err)
	}
	made := map[string]bool{}
	for i, e := range doc.Objects {
		p := filepath.Join(dir, filepath.FromSlash(names[i]))
		if d := filepath.Dir(p); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("split %s: %w", dir, err)
			}
			made[d] = true
		}
		if err := writeFileAtomic(p, EncodeFile(e)); err != nil {
			return fmt.Errorf("split objects[%d] (%s): %w", i, e.Key(), err)
		}
	}
	return nil
}

// Assemble reads every dir/<TYPE>/*.json back into an export document, objects
// sorted by type then key. Hidden folders (".git") are skipped.
func Assemble(dir string) (*spconfig.ExportDocument, error) {
	doc := &spconfig.ExportDocument{ExportHeader: spconfig.ExportHeader{Version: 1}}
	types, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("assemble %s: %w", dir, err)
	}
	for _, t := range types {
		if !t.IsDir() || strings.HasPrefix(t.Name(), ".") {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, t.Name()))
		if err != nil {
			return nil, fmt.Errorf("assemble %s: %w", dir, err)
		}
		for _, f := range files {
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".json") || !f.Type().IsRegular() {
				continue
			}
			p := filepath.Join(dir, t.Name(), f.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("assemble: %w", err)
			}
			e, err := DecodeFile(p, data)
			if err != nil {
				return nil, fmt.Errorf("assemble: %w", err)
			}
			doc.Objects = append(doc.Objects, e)
		}
	}
	spconfig.SortEntries(doc.Objects)
	return doc, nil
}

// writeFileAtomic writes data to p through a temporary file and a rename.
func writeFileAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".promoter-tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	return nil
}

// validTreeName reports whether name may be a git tree entry: git and go-git
// read back only names without "/" or NUL, not empty, ".", ".." or ".git"
// (in any case).
func validTreeName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.EqualFold(name, ".git") {
		return false
	}
	return !strings.ContainsAny(name, "/\x00")
}

// validRepoPath checks a repository-relative path before it goes into a tree.
func validRepoPath(p string) error {
	if p == "" || path.IsAbs(p) || strings.HasSuffix(p, "/") {
		return fmt.Errorf("path %q is not a relative file path", p)
	}
	for _, c := range strings.Split(p, "/") {
		if !validTreeName(c) {
			return fmt.Errorf("path %q: component %q cannot be stored in git", p, c)
		}
	}
	return nil
}
