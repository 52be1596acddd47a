package spconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// decodeExportReference is DecodeExport as it was before the splitter
// (stream.go): every entry cut out of the stream by encoding/json.Decoder.
// The splitter must behave exactly like it.
func decodeExportReference(r io.Reader, fn func(i int, e Entry) error) (ExportHeader, error) {
	var h ExportHeader
	dec := json.NewDecoder(r)
	fail := func(i int, err error) (ExportHeader, error) {
		return h, &DecodeError{Index: i, Err: err}
	}
	tok, err := dec.Token()
	if err != nil {
		return fail(-1, fmt.Errorf("not JSON: %w", err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fail(-1, errors.New("not a JSON object"))
	}
	sawObjects := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(-1, fmt.Errorf("bad JSON: %w", err))
		}
		name, _ := tok.(string)
		switch name {
		case "version":
			if err := dec.Decode(&h.Version); err != nil {
				return fail(-1, fmt.Errorf("version: %w", err))
			}
		case "timestamp":
			if err := dec.Decode(&h.Timestamp); err != nil {
				return fail(-1, fmt.Errorf("timestamp: %w", err))
			}
		case "tenant":
			if err := dec.Decode(&h.Tenant); err != nil {
				return fail(-1, fmt.Errorf("tenant: %w", err))
			}
		case "description":
			if err := dec.Decode(&h.Description); err != nil {
				return fail(-1, fmt.Errorf("description: %w", err))
			}
		case "options":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail(-1, fmt.Errorf("options: %w", err))
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, raw); err != nil {
				return fail(-1, fmt.Errorf("options: %w", err))
			}
			h.Options = buf.Bytes()
		case "objects":
			sawObjects = true
			tok, err := dec.Token()
			if err != nil {
				return fail(-1, fmt.Errorf("objects: %w", err))
			}
			if tok == nil {
				continue
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return fail(-1, errors.New("objects is not an array"))
			}
			for i := 0; dec.More(); i++ {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fail(i, fmt.Errorf("bad JSON (truncated download?): %w", err))
				}
				e, ok := scanEntry(raw, true) // raw is ours: the entry may keep it
				var err error
				if !ok {
					e, err = newEntryReference(raw)
				}
				if err != nil {
					return fail(i, err)
				}
				if err := fn(i, e); err != nil {
					return h, &DecodeError{Index: i, Self: e.Self, Err: err}
				}
			}
			if _, err := dec.Token(); err != nil {
				return fail(-1, fmt.Errorf("objects: unterminated array (truncated download?): %w", err))
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(-1, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(-1, fmt.Errorf("unterminated document (truncated download?): %w", err))
	}
	if !sawObjects {
		return fail(-1, errors.New(`no "objects" array: this is not an SP-Config export`))
	}
	return h, nil
}

// decodeResult is everything a DecodeExport call shows its caller.
type decodeResult struct {
	Entries []entryView // viewed after the call: entries must not share a reused buffer
	Indexes []int
	Header  ExportHeader
	Err     string
	ErrType string
	Index   int // of a *DecodeError
	Self    Self
}

// readerKind says how the document reaches the decoder.
type readerKind uint8

const (
	readWhole   readerKind = iota // one bytes.Reader
	readOneByte                   // iotest.OneByteReader
	readHalf                      // iotest.HalfReader
	readDataErr                   // iotest.DataErrReader: EOF with the last bytes
	readBroken                    // the bytes, then a connection error
	readerKinds
)

var errConnReset = errors.New("connection reset by peer")

func newDocReader(doc []byte, kind readerKind) io.Reader {
	switch kind {
	case readOneByte:
		return iotest.OneByteReader(bytes.NewReader(doc))
	case readHalf:
		return iotest.HalfReader(bytes.NewReader(doc))
	case readDataErr:
		return iotest.DataErrReader(bytes.NewReader(doc))
	case readBroken:
		return io.MultiReader(bytes.NewReader(doc), iotest.ErrReader(errConnReset))
	}
	return bytes.NewReader(doc)
}

// runDecode decodes doc with decode; fn fails at entry failAt (if >= 0).
func runDecode(doc []byte, kind readerKind, failAt int, decode func(io.Reader, func(int, Entry) error) (ExportHeader, error)) decodeResult {
	var res decodeResult
	var entries []Entry
	h, err := decode(newDocReader(doc, kind), func(i int, e Entry) error {
		if i == failAt {
			return fmt.Errorf("stop at %d", i)
		}
		res.Indexes = append(res.Indexes, i)
		entries = append(entries, e)
		return nil
	})
	for _, e := range entries {
		res.Entries = append(res.Entries, viewOf(e, nil))
	}
	res.Header = h
	if err != nil {
		res.Err, res.ErrType = err.Error(), fmt.Sprintf("%T", err)
		var de *DecodeError
		if errors.As(err, &de) {
			res.Index, res.Self = de.Index, de.Self
		}
	}
	return res
}

// compareDecode decodes doc with the splitter (sizes sz) and the reference
// and reports any difference.
func compareDecode(t *testing.T, doc []byte, kind readerKind, failAt int, sz splitSizes) {
	t.Helper()
	want := runDecode(doc, kind, failAt, decodeExportReference)
	got := runDecode(doc, kind, failAt, func(r io.Reader, fn func(int, Entry) error) (ExportHeader, error) {
		return decodeExport(r, fn, sz)
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reader %d, fail at %d, sizes %+v: DecodeExport differs from the reference for %.300q (-want +got):\n%s", kind, failAt, sz, doc, diff)
	}
}

// splitSizeCases are buffer sizes from tiny (every element refills, grows
// or goes to a Decoder) to the default.
var splitSizeCases = []splitSizes{
	{chunk: 1, maxSpan: 1 << 20},
	{chunk: 7, maxSpan: 40},
	{chunk: 64, maxSpan: 300},
	{chunk: 512, maxSpan: 4096},
	defaultSplit,
}

// sharedSamples returns the export samples in ../shared/samples, or skips.
func sharedSamples(tb testing.TB) map[string][]byte {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	samples := filepath.Join(dir, "..", "shared", "samples")
	out := map[string][]byte{}
	for _, name := range []string{"tenant-dev.export.json", "tenant-prod.export.json"} {
		b, err := os.ReadFile(filepath.Join(samples, name))
		if err != nil {
			tb.Skipf("skipping: sample %s is absent: %v", name, err)
		}
		out[name] = b
	}
	return out
}

const (
	entryA = `{"version":1,"self":{"name":"a","id":"1","type":"TAG"},"object":{"name":"a"}}`
	entryB = `{"version":1,"self":{"name":"Brackets \"}]{[\\","id":"2","type":"SOURCE"},"object":{"name":"b\\\\","d":"]}\"\\\"{["}}`
	// entryOdd is valid but not for the fast path (a case-folded key).
	entryOdd = `{"Self":{"name":"odd","id":"3","type":"ROLE"},"object":{}}`
)

// decodeCases are documents for the table test and the fuzz corpus.
var decodeCases = []struct{ name, doc string }{
	{"empty objects", `{"version":1,"objects":[]}`},
	{"envelope", `{"version":2,"timestamp":"t","tenant":"x","description":"d","options":{ "a" : [1, 2] },"objects":[` + entryA + `]}`},
	{"objects first, keys after", `{"objects":[` + entryA + `,` + entryB + `],"version":3,"unknown":{"a":[1,{"b":"]"}]},"tenant":"t"}`},
	{"whitespace", " \n{ \"objects\" :\n [\n  " + entryA + " ,\n\t" + entryB + "\r\n ] ,\"version\": 1 }\n"},
	{"indented entry", `{"objects":[{ "self" : { "name" : "a b", "type" : "TAG" } , "object" : { "x" : [ 1 , 2 ] } }]}`},
	{"unusual entry", `{"objects":[` + entryA + `,` + entryOdd + `,` + entryB + `]}`},
	{"duplicate objects", `{"objects":[` + entryA + `],"objects":[` + entryB + `]}`},
	{"trailing data", `{"objects":[` + entryA + `]} {"x"`},
	{"not JSON", `x`},
	{"empty", ``},
	{"not an object", `[1]`},
	{"no objects", `{"version":1}`},
	{"objects null", `{"objects":null}`},
	{"objects not array", `{"objects":{"a":1}}`},
	{"objects string", `{"objects":"[]"}`},
	{"version string", `{"version":"1","objects":[]}`},
	{"options invalid", `{"options":{"a":},"objects":[]}`},
	{"key not string", `{1:2,"objects":[]}`},
	{"element null", `{"objects":[null]}`},
	{"element array", `{"objects":[[` + entryA + `]]}`},
	{"element string", `{"objects":["{}"]}`},
	{"element number", `{"objects":[` + entryA + `,1]}`},
	{"element no self", `{"objects":[` + entryA + `,{"object":{}}]}`},
	{"element invalid", `{"objects":[` + entryA + `,{"self":{"name":"n","type":"TAG"},"object":{"a":01}}]}`},
	{"element bad escape", `{"objects":[{"self":{"name":"\x","type":"TAG"},"object":{}}]}`},
	{"element mismatched bracket", `{"objects":[{"self":{"name":"n","type":"TAG"},"object":{"a":[1}}]}]}`},
	{"element unterminated string", `{"objects":[{"self":{"name":"n,"type":"TAG"},"object":{}},` + entryA + `]}`},
	{"element extra close", `{"objects":[` + entryA + `}]}`},
	{"trailing comma", `{"objects":[` + entryA + `,]}`},
	{"leading comma", `{"objects":[,` + entryA + `]}`},
	{"missing comma", `{"objects":[` + entryA + ` ` + entryA + `]}`},
	{"close brace for array", `{"objects":[` + entryA + `}`},
	{"close brace first", `{"objects":[}`},
	{"deep element", `{"objects":[{"self":{"name":"n","type":"TAG"},"object":{"a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}]}`},
	{"too deep element", `{"objects":[{"self":{"name":"n","type":"TAG"},"object":{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}}]}`},
	{"large element", `{"objects":[` + entryA + `,{"self":{"name":"big","type":"TAG"},"object":{"d":"` + strings.Repeat(`x\"`, 3000) + `"}},` + entryB + `]}`},
	{"truncated in element", `{"objects":[` + entryA + `,` + entryB[:40]},
	{"truncated in string escape", `{"objects":[{"self":{"name":"a\`},
	{"truncated after element", `{"objects":[` + entryA},
	{"truncated after comma", `{"objects":[` + entryA + `,`},
	{"truncated after array", `{"objects":[` + entryA + `]`},
	{"truncated after array comma", `{"objects":[` + entryA + `],`},
	{"truncated before array", `{"objects":`},
}

func TestDecodeExportMatchesReference(t *testing.T) {
	docs := map[string]string{}
	for _, tc := range decodeCases {
		docs[tc.name] = tc.doc
	}
	for name, b := range sharedSamples(t) {
		docs[name] = string(b)
		docs[name+" truncated"] = string(b[:len(b)*2/3])
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			for _, sz := range splitSizeCases {
				for kind := range readerKinds {
					compareDecode(t, []byte(doc), kind, -1, sz)
				}
				compareDecode(t, []byte(doc), readWhole, 1, sz)
			}
		})
	}
}

// TestDecodeExportSplitterSteps checks the documents take the paths they
// are meant to: without it a splitter that always handed over to a Decoder
// would pass the comparison with the reference.
func TestDecodeExportSplitterSteps(t *testing.T) {
	large := `{"self":{"name":"big","type":"TAG"},"object":{"d":"` + strings.Repeat("x", 5000) + `"}}`
	tests := []struct {
		name    string
		doc     string
		sz      splitSizes
		entries int
		steps   int
		wantErr bool
	}{
		{"fast entries", `{"objects":[` + entryA + `,` + entryB + `, ` + entryA + `]}`, defaultSplit, 3, 0, false},
		{"refills and growth", `{"objects":[` + entryA + `,` + entryB + `,` + large + `]}`, splitSizes{chunk: 5, maxSpan: 8000}, 3, 0, false},
		{"unusual entry without a Decoder", `{"objects":[` + entryA + `,` + entryOdd + `]}`, defaultSplit, 2, 0, false},
		{"duplicate objects", `{"objects":[` + entryA + `],"objects":[` + entryB + `]}`, defaultSplit, 2, 0, false},
		{"element larger than maxSpan", `{"objects":[` + entryA + `,` + large + `,` + entryB + `]}`, splitSizes{chunk: 64, maxSpan: 1000}, 3, 1, false},
		{"element not an object", `{"objects":[` + entryA + `,null]}`, defaultSplit, 1, 1, true},
		{"trailing comma", `{"objects":[` + entryA + `,]}`, defaultSplit, 1, 1, true},
		{"truncated", `{"objects":[` + entryA + `,` + entryA[:20], defaultSplit, 1, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			steps, n := 0, 0
			tc.sz.steps = &steps
			_, err := decodeExport(strings.NewReader(tc.doc), func(int, Entry) error { n++; return nil }, tc.sz)
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want error %v", err, tc.wantErr)
			}
			if n != tc.entries || steps != tc.steps {
				t.Errorf("%d entries with %d Decoder steps, want %d and %d", n, steps, tc.entries, tc.steps)
			}
		})
	}
}

// TestSplitterSpan checks the bracket matcher on its own, across refills.
func TestSplitterSpan(t *testing.T) {
	tests := []struct {
		in   string
		want int // length of the span, -1 for a hand-over
	}{
		{`{}`, 2},
		{`{"a":"}"} tail`, 9},
		{`{"a":"\"}"}x`, 11},
		{`{"a":"\\"}x`, 10},
		{`{"a":"\\\"}"}x`, 13},
		{`{"a":[{"b":"]"}]}x`, 17},
		{`[1,{"a":[]}]x`, 12},
		{`{"a":[}`, -1},
		{`{"a":{]`, -1},
		{`{"a":"}`, -1},
		{`{"a":`, -1},
		{strings.Repeat("[", maxSpanDepth) + strings.Repeat("]", maxSpanDepth), 2 * maxSpanDepth},
		{strings.Repeat("[", maxSpanDepth+1) + strings.Repeat("]", maxSpanDepth+1), -1},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 3, 1024} {
			s := &splitter{splitSizes: splitSizes{chunk: chunk, maxSpan: 1 << 20}, src: &stickyReader{r: iotest.HalfReader(strings.NewReader(tc.in))}}
			s.buf = make([]byte, 0, chunk)
			got := -1
			if s.fill() {
				if end, ok := s.span(); ok {
					got = end - s.pos
					if string(s.buf[s.pos:end]) != tc.in[:got] {
						t.Errorf("span(%q), chunk %d: bytes %q, want %q", tc.in, chunk, s.buf[s.pos:end], tc.in[:got])
					}
				}
			}
			if got != tc.want {
				t.Errorf("span(%q), chunk %d = %d, want %d", tc.in, chunk, got, tc.want)
			}
		}
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestDecodeExportStreams checks that the decoder reads only about a buffer
// ahead of the entry it hands out, for a good document and for one whose
// first entry has an unterminated string (brackets never balance).
func TestDecodeExportStreams(t *testing.T) {
	const n = 2000
	var doc bytes.Buffer
	doc.WriteString(`{"version":1,"objects":[`)
	ends := make([]int, n)
	for i := range n {
		if i > 0 {
			doc.WriteString(",\n")
		}
		fmt.Fprintf(&doc, `{"version":1,"self":{"name":"tag %d","id":"%d","type":"TAG"},"object":{"name":"tag %d","description":"%s"}}`, i, i, i, strings.Repeat("d", 1000))
		ends[i] = doc.Len()
	}
	doc.WriteString("]}")
	sz := splitSizes{chunk: 16 << 10, maxSpan: 64 << 10}
	cr := &countingReader{r: bytes.NewReader(doc.Bytes())}
	ahead := 0
	if _, err := decodeExport(cr, func(i int, e Entry) error {
		ahead = max(ahead, cr.n-ends[i])
		return nil
	}, sz); err != nil {
		t.Fatal(err)
	}
	if ahead > 2*sz.chunk {
		t.Errorf("read %d bytes ahead of an entry, want at most %d (two buffers)", ahead, 2*sz.chunk)
	}

	bad := bytes.Replace(doc.Bytes(), []byte(`"tag 0",`), []byte(`"tag 0,`), 1)
	cr = &countingReader{r: bytes.NewReader(bad)}
	_, err := decodeExport(cr, func(int, Entry) error { return nil }, sz)
	var de *DecodeError
	if !errors.As(err, &de) || de.Index != 0 {
		t.Fatalf("unterminated string: error %v, want a *DecodeError for objects[0]", err)
	}
	if limit := sz.maxSpan + 4*sz.chunk; cr.n > limit {
		t.Errorf("unterminated string: read %d bytes of %d before failing, want at most %d", cr.n, len(bad), limit)
	}
}

func FuzzDecodeExportMatchesReference(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.doc), uint8(0), uint8(255))
	}
	for _, b := range sharedSamples(f) {
		f.Add(b, uint8(0), uint8(255))
		f.Add(b, uint8(3), uint8(7))
		for _, frac := range []int{1, 2, 3, 5, 8, 13, 21, 34, 55, 89} {
			f.Add(b[:len(b)*frac/100], uint8(frac), uint8(255))
		}
		// Cut inside the first entry, just after an element and its comma.
		if i := bytes.Index(b, []byte(`"objects"`)); i >= 0 {
			f.Add(b[:i+200], uint8(1), uint8(255))
			if j := bytes.Index(b[i:], []byte("},\n")); j >= 0 {
				f.Add(b[:i+j+1], uint8(2), uint8(255))
				f.Add(b[:i+j+2], uint8(4), uint8(255))
			}
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, mode, failAt uint8) {
		kind := readerKind(mode % uint8(readerKinds))
		sz := defaultSplit
		if mode >= uint8(readerKinds) { // small buffers and spans
			chunk := 1 + int(mode)%61
			sz = splitSizes{chunk: chunk, maxSpan: chunk + int(mode)*7}
		}
		fail := int(failAt)
		if failAt == 255 {
			fail = -1
		}
		in := bytes.Clone(doc)
		compareDecode(t, doc, kind, fail, sz)
		if !bytes.Equal(in, doc) {
			t.Fatal("input was modified")
		}
	})
}

// BenchmarkDecodeExport compares the splitter with the Decoder-based
// reference on 10,000 synthetic 1.5 KB entries (compact, as the fake tenant
// sends them, and indented).
func BenchmarkDecodeExport(b *testing.B) {
	for _, indent := range []bool{false, true} {
		var doc bytes.Buffer
		doc.WriteString(`{"version":1,"tenant":"bench","objects":[`)
		for i := range 10000 {
			if i > 0 {
				doc.WriteString(",\n")
			}
			e := fmt.Sprintf(`{"version":1,"self":{"name":"Source %d [source-%d]","id":"2c9180%06d","type":"SOURCE"},"object":{"name":"Source %d","description":"%s","owner":{"type":"IDENTITY","id":"%d","name":"owner \"%d\""},"attributes":{"list":[1,2.5,true,null,"x"],"n":10.0}}}`, i, i, i, i, strings.Repeat("reviewed every quarter; ", 55), i, i)
			if indent {
				var ib bytes.Buffer
				if err := json.Indent(&ib, []byte(e), "  ", "  "); err != nil {
					b.Fatal(err)
				}
				e = ib.String()
			}
			doc.WriteString(e)
		}
		doc.WriteString("]}\n")
		name := "compact"
		if indent {
			name = "indented"
		}
		for _, p := range []struct {
			name string
			fn   func(io.Reader, func(int, Entry) error) (ExportHeader, error)
		}{{"splitter", DecodeExport}, {"reference", decodeExportReference}} {
			b.Run(name+"/"+p.name, func(b *testing.B) {
				b.SetBytes(int64(doc.Len()))
				b.ReportAllocs()
				for b.Loop() {
					n := 0
					if _, err := p.fn(bytes.NewReader(doc.Bytes()), func(int, Entry) error { n++; return nil }); err != nil || n != 10000 {
						b.Fatalf("%d entries, error %v", n, err)
					}
				}
			})
		}
	}
}
