package gitstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promoter/spconfig"
)

// sharedDir finds ../shared next to the module root, or skips.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for i := 0; i < 10; i++ {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(s); err != nil {
				t.Skip("../shared is absent: the sample documents are not available")
			}
			return s
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("module root not found")
	return ""
}

func loadSample(t testing.TB, name string) *spconfig.ExportDocument {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedDir(t), "samples", "tenant-"+name+".export.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := spconfig.ReadExport(f)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func mkEntry(t testing.TB, typ, name, id string, extra string) spconfig.Entry {
	t.Helper()
	obj := map[string]any{"id": id, "name": name}
	ob, _ := json.Marshal(obj)
	if extra != "" {
		ob = append(ob[:len(ob)-1], []byte(","+extra+"}")...)
	}
	self, _ := json.Marshal(spconfig.Self{Name: name, ID: id, Type: typ})
	raw := fmt.Sprintf(`{"version":1,"self":%s,"object":%s}`, self, ob)
	e, err := spconfig.NewEntry([]byte(raw))
	if err != nil {
		t.Fatalf("entry %s: %v", raw, err)
	}
	return e
}

func TestEncodeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Active Directory", "Active Directory"},
		{"a/b", "a%2Fb"},
		{"../etc/passwd", "%2E%2E%2Fetc%2Fpasswd"},
		{".git", "%2Egit"},
		{"..", "%2E%2E"},
		{"x:y\\z%", "x%3Ay%5Cz%25"},
		{"Zürich", "Z%C3%BCrich"},
		{"tab\there", "tab%09here"},
		{"", "_"},
		{"CON", "%43ON"},
		{"nul.txt", "%6Eul.txt"},
		{"a.b.", "a.b."},
		{"~x", "%7Ex"},
	}
	for _, tt := range tests {
		if got := EncodeName(tt.in); got != tt.want {
			t.Errorf("EncodeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("é", 200)
	got := EncodeName(long)
	if len(got) > maxNameBytes || !strings.Contains(got, "~") {
		t.Errorf("long name encoded to %d bytes %q, want <= %d with a hash suffix", len(got), got, maxNameBytes)
	}
	if EncodeName(long+"x") == got {
		t.Errorf("two long names that differ at the end encode the same")
	}
}

func checkNames(t testing.TB, entries []spconfig.Entry, names []string) {
	t.Helper()
	seen := map[string]int{}
	for i, n := range names {
		if err := validRepoPath(n); err != nil {
			t.Fatalf("name %d %q: %v", i, n, err)
		}
		parts := strings.Split(n, "/")
		if len(parts) != 2 || !strings.HasSuffix(parts[1], ".json") || parts[0] != EncodeName(entries[i].Self.Type) {
			t.Fatalf("name %d %q is not <TYPE>/<name>.json", i, n)
		}
		for _, p := range parts {
			if strings.HasPrefix(p, ".") || len(p) > 200 || strings.ContainsAny(p, "/\\:\x00") {
				t.Fatalf("name %d: component %q is unsafe", i, p)
			}
		}
		k := strings.ToLower(n)
		if j, ok := seen[k]; ok {
			t.Fatalf("entries %d and %d both get %q", j, i, n)
		}
		seen[k] = i
	}
}

func TestFileNames(t *testing.T) {
	es := []spconfig.Entry{
		mkEntry(t, "TRANSFORM", "Admin", "1", ""),
		mkEntry(t, "TRANSFORM", "admin", "2", ""),
		mkEntry(t, "TRANSFORM", "dup", "3", ""),
		mkEntry(t, "TRANSFORM", "dup", "4", ""),
		mkEntry(t, "TRANSFORM", "a/b", "5", ""),
		mkEntry(t, "TRANSFORM", "a%2Fb", "6", ""),
		mkEntry(t, "ROLE", "Admin", "7", ""),
		mkEntry(t, "LIFECYCLE_STATE", "active", "8", `"identityProfileRef":{"name":"Employees"}`),
		mkEntry(t, "LIFECYCLE_STATE", "active", "9", `"identityProfileRef":{"name":"Contractors"}`),
	}
	names, err := FileNames(es)
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, es, names)
	want := map[int]string{
		4: "TRANSFORM/a%2Fb.json",
		5: "TRANSFORM/a%252Fb.json",
		6: "ROLE/Admin.json",
		7: "LIFECYCLE_STATE/Employees - active.json",
		8: "LIFECYCLE_STATE/Contractors - active.json",
	}
	for i, w := range want {
		if names[i] != w {
			t.Errorf("names[%d] = %q, want %q", i, names[i], w)
		}
	}
	for _, i := range []int{0, 1, 2, 3} {
		if !strings.Contains(names[i], "~") {
			t.Errorf("names[%d] = %q, want a collision suffix", i, names[i])
		}
	}
	// same set, other order: same names
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 5; round++ {
		perm := rng.Perm(len(es))
		shuffled := make([]spconfig.Entry, len(es))
		for i, p := range perm {
			shuffled[i] = es[p]
		}
		got, err := FileNames(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range perm {
			if got[i] != names[p] {
				t.Fatalf("round %d: entry %d named %q, was %q in the original order", round, p, got[i], names[p])
			}
		}
	}
}

func TestFileNamesSameAcrossTenants(t *testing.T) {
	dev, prod := loadSample(t, "dev"), loadSample(t, "prod")
	dn, err := FileNames(dev.Objects)
	if err != nil {
		t.Fatal(err)
	}
	pn, err := FileNames(prod.Objects)
	if err != nil {
		t.Fatal(err)
	}
	checkNames(t, dev.Objects, dn)
	checkNames(t, prod.Objects, pn)
	byKey := map[spconfig.Key]string{}
	for i, e := range dev.Objects {
		byKey[e.Key()] = dn[i]
	}
	matched := 0
	for i, e := range prod.Objects {
		if d, ok := byKey[e.Key()]; ok {
			matched++
			if d != pn[i] {
				t.Errorf("%s: dev file %q, prod file %q", e.Key(), d, pn[i])
			}
		}
	}
	if matched < 40 {
		t.Errorf("only %d prod objects matched dev objects by key", matched)
	}
}

func compactAll(es []spconfig.Entry) map[string]bool {
	m := map[string]bool{}
	for _, e := range es {
		m[string(e.Raw)] = true
	}
	return m
}

func roundTrip(t testing.TB, doc *spconfig.ExportDocument) {
	t.Helper()
	dir := t.TempDir()
	if err := Split(doc, dir); err != nil {
		t.Fatalf("split: %v", err)
	}
	back, err := Assemble(dir)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	if len(back.Objects) != len(doc.Objects) {
		t.Fatalf("assembled %d objects, split %d", len(back.Objects), len(doc.Objects))
	}
	want := make([]spconfig.Entry, len(doc.Objects))
	copy(want, doc.Objects)
	spconfig.SortEntries(want)
	for i := range want {
		if !bytes.Equal(want[i].Raw, back.Objects[i].Raw) {
			t.Fatalf("object %d (%s) changed:\n got %s\nwant %s", i, want[i].Key(), back.Objects[i].Raw, want[i].Raw)
		}
	}
}

func TestSplitAssembleSamples(t *testing.T) {
	for _, name := range []string{"dev", "prod"} {
		t.Run(name, func(t *testing.T) {
			doc := loadSample(t, name)
			roundTrip(t, doc)
			// the number literal of the AD source survives
			dir := t.TempDir()
			if err := Split(doc, dir); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "SOURCE", "Active Directory.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(`"deleteThreshold": 10.0`)) || !bytes.HasSuffix(data, []byte("}\n")) || !bytes.HasPrefix(data, []byte("{\n  \"version\"")) {
				t.Errorf("SOURCE file is not two-space indented with its literals:\n%s", data)
			}
		})
	}
}

func TestSplitAssembleHostile(t *testing.T) {
	names := []string{"../../etc/passwd", "/abs", ".git", ".GIT", "a\\b", "CON", "con", "x:y", "\x01ctl", "%2F", "é", "É",
		strings.Repeat("long", 60), strings.Repeat("long", 60) + "2", "same", "same", "SAME", " ", ".", "..", "~", "a~12345678"}
	doc := &spconfig.ExportDocument{}
	for i, n := range names {
		doc.Objects = append(doc.Objects, mkEntry(t, "TRANSFORM", n, fmt.Sprint(i), `"n":12345678901234567890,"f":10.0`))
	}
	doc.Objects = append(doc.Objects, mkEntry(t, "../TYPE", "x", "t", ""))
	roundTrip(t, doc)
	dir := t.TempDir()
	if err := Split(doc, dir); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil || n != len(doc.Objects) {
		t.Fatalf("found %d files inside the folder (err %v), want %d", n, err, len(doc.Objects))
	}
}

func TestSplitRefusesBadDocument(t *testing.T) {
	good := mkEntry(t, "TRANSFORM", "ok", "1", "")
	bad := spconfig.Entry{Raw: json.RawMessage(`{"version":1,"self":{"name":"x","id":"2"},"object":{}}`), Self: spconfig.Self{Name: "x", ID: "2"}}
	doc := &spconfig.ExportDocument{Objects: []spconfig.Entry{good, bad}}
	dir := t.TempDir()
	err := Split(doc, dir)
	var de *spconfig.DecodeError
	if !errors.As(err, &de) || de.Index != 1 || !strings.Contains(err.Error(), "objects[1]") {
		t.Fatalf("split of a bad document: %v, want an error naming objects[1]", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("split wrote %d entries before refusing", len(ents))
	}
}

func TestDecodeFileErrors(t *testing.T) {
	tests := []struct {
		data, want string
	}{
		{"{\n  \"version\": 1,\n  \"self\": x\n}\n", "SOURCE/a.json:3:11"},
		{"{\"version\":1}", "no self block"},
		{"", "SOURCE/a.json"},
	}
	for _, tt := range tests {
		_, err := DecodeFile("SOURCE/a.json", []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeFile(%q) = %v, want error containing %q", tt.data, err, tt.want)
		}
	}
}

func TestSemanticEqual(t *testing.T) {
	base := `{"version":1,"self":{"name":"n","id":"1","type":"ROLE"},"object":{"id":"1","name":"n","created":"2020","modified":"2021","x":1}}`
	tests := []struct {
		other string
		want  bool
	}{
		{base, true},
		{`{"version":1,"self":{"name":"n","id":"1","type":"ROLE"},"object":{"name":"n","id":"1","created":"2020","modified":"2025","x":1}}`, true},
		{`{"version":1,"self":{"name":"n","id":"1","type":"ROLE"},"object":{"id":"1","name":"n","x":1}}`, true},
		{`{"version":1,"self":{"name":"n","id":"1","type":"ROLE"},"object":{"id":"1","name":"n","x":1.0}}`, false},
		{`{"version":1,"self":{"name":"n","id":"1","type":"ROLE"},"object":{"id":"1","name":"n","x":2}}`, false},
		{`{"version":1,"self":{"name":"n","id":"2","type":"ROLE"},"object":{"id":"1","name":"n","x":1}}`, false},
	}
	a, err := spconfig.NewEntry([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		b, err := spconfig.NewEntry([]byte(tt.other))
		if err != nil {
			t.Fatal(err)
		}
		if got := SemanticEqual(a, b); got != tt.want {
			t.Errorf("case %d: SemanticEqual = %v, want %v", i, got, tt.want)
		}
	}
}

func FuzzEncodeName(f *testing.F) {
	for _, s := range []string{"a", "../x", ".git", "CON", "é/ü", strings.Repeat("%", 100), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := EncodeName(s)
		if !validTreeName(got) || strings.HasPrefix(got, ".") || len(got) > maxNameBytes {
			t.Fatalf("EncodeName(%q) = %q is unsafe", s, got)
		}
		for i := 0; i < len(got); i++ {
			if !safeByte(got[i]) && got[i] != '%' && got[i] != '~' {
				t.Fatalf("EncodeName(%q) = %q has byte %q", s, got, got[i])
			}
		}
		if EncodeName(s) != got {
			t.Fatal("not deterministic")
		}
		if len(s) > 0 && len(s) <= 40 && EncodeName(s+"x") == got {
			t.Fatalf("%q and %q collide", s, s+"x")
		}
	})
}

func FuzzFileNames(f *testing.F) {
	f.Add("Admin", "admin", "a/b")
	f.Add("dup", "dup", "DUP")
	f.Add("..", ".git", "CON")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var es []spconfig.Entry
		for i, n := range []string{a, b, c, a} {
			if n == "" {
				n = "_"
			}
			self, _ := json.Marshal(spconfig.Self{Name: n, ID: fmt.Sprint(i), Type: "TRANSFORM"})
			obj, _ := json.Marshal(map[string]string{"name": n})
			e, err := spconfig.NewEntry([]byte(fmt.Sprintf(`{"version":1,"self":%s,"object":%s}`, self, obj)))
			if err != nil {
				t.Skip()
			}
			es = append(es, e)
		}
		names, err := FileNames(es)
		if err != nil {
			t.Fatal(err)
		}
		checkNames(t, es, names)
		rev := []spconfig.Entry{es[3], es[2], es[1], es[0]}
		names2, err := FileNames(rev)
		if err != nil {
			t.Fatal(err)
		}
		for i := range es {
			if names[i] != names2[3-i] {
				t.Fatalf("order changes names: %q vs %q", names[i], names2[3-i])
			}
		}
	})
}

func FuzzSplitAssemble(f *testing.F) {
	f.Add("name", `{"a":10.0,"b":[1,2,{"c":null}],"d":"\u00e9\n"}`)
	f.Add("../x", `{"z":1,"a":2}`)
	f.Add("CON", `{"n":12345678901234567890}`)
	f.Fuzz(func(t *testing.T, name, extra string) {
		if !json.Valid([]byte(extra)) || !strings.HasPrefix(strings.TrimSpace(extra), "{") {
			t.Skip()
		}
		self, _ := json.Marshal(spconfig.Self{Name: name, ID: "1", Type: "TRANSFORM"})
		raw := fmt.Sprintf(`{"version":1,"self":%s,"object":%s,"jwsSignature":"sig"}`, self, extra)
		e, err := spconfig.NewEntry([]byte(raw))
		if err != nil {
			t.Skip()
		}
		roundTrip(t, &spconfig.ExportDocument{Objects: []spconfig.Entry{e}})
	})
}

// encodeNameReference is EncodeName as it was before its fast path for
// plain names (issue 18), kept to check that the names did not change.
func encodeNameReference(name string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
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
	s := b.String()
	if s == "" {
		return "_"
	}
	stem, _, _ := strings.Cut(s, ".")
	if windowsDevices[strings.ToLower(strings.TrimRight(stem, " "))] {
		s = fmt.Sprintf("%%%02X", s[0]) + s[1:]
	}
	if len(s) > maxNameBytes {
		cut := maxNameBytes - 9
		if i := strings.LastIndexByte(s[:cut], '%'); i >= 0 && i > cut-3 {
			cut = i
		}
		s = s[:cut] + "~" + shortHash(s)
	}
	return s
}

func FuzzEncodeNameMatchesReference(f *testing.F) {
	for _, s := range []string{"", "a", "CON", "con.txt", "Com1  .json", "lpt9", "nul ", ".x", "a.b", "AUX", strings.Repeat("a", 160), strings.Repeat("é", 80), "x%y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := EncodeName(s), encodeNameReference(s); got != want {
			t.Fatalf("EncodeName(%q) = %q, want %q", s, got, want)
		}
	})
}
