package gitstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	githash "github.com/go-git/go-git/v5/plumbing/hash"
)

// Index files of version 2 and 3: a 12-byte header (DIRC, version, entry
// count), the entries sorted by name and stage, extensions, and a SHA-1 of
// everything before it. promoter writes them without extensions, as go-git's
// index.Encoder does.
const (
	indexHead = 12
	indexSum  = 20
	// indexChunk is how much an indexSink buffers between writes.
	indexChunk = 64 << 10
)

// encodeIndex returns the bytes go-git's index.Encoder writes for idx
// (versions 2 and 3; like it, no extension), sorting idx.Entries as it
// does. A test checks the bytes are the Encoder's.
func encodeIndex(idx *index.Index) ([]byte, error) {
	var b bytes.Buffer
	if err := writeIndex(&b, idx); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeIndex writes encodeIndex's bytes to w in chunks of 64 KB. The
// Encoder writes every field of every entry through encoding/binary and a
// MultiWriter, one small write at a time: at 100,000 entries that took a
// tenth of a second per commit; a whole buffer of the file is 11 MB more
// at the commit (issue 18).
func writeIndex(w io.Writer, idx *index.Index) error {
	if idx.Version != 2 && idx.Version != 3 {
		return index.ErrUnsupportedVersion
	}
	sort.Sort(byName(idx.Entries))
	s := newIndexSink(w, idx.Version, len(idx.Entries))
	for _, e := range idx.Entries {
		s.entry(e)
	}
	return s.close()
}

// indexSink writes an index file through a buffer of indexChunk bytes,
// hashing what it writes; the first error stops it and close returns it.
type indexSink struct {
	w   io.Writer
	h   hash.Hash
	b   []byte
	err error
}

// newIndexSink starts an index file of count entries.
func newIndexSink(w io.Writer, version uint32, count int) *indexSink {
	s := &indexSink{w: w, h: githash.New(githash.CryptoType), b: make([]byte, 0, indexChunk+4096)}
	s.b = append(s.b, 'D', 'I', 'R', 'C')
	s.b = binary.BigEndian.AppendUint32(s.b, version)
	s.b = binary.BigEndian.AppendUint32(s.b, uint32(count))
	return s
}

// raw copies the bytes of an entry as another index file holds them.
func (s *indexSink) raw(b []byte) {
	s.b = append(s.b, b...)
	s.spill()
}

// entry encodes e as go-git's Encoder does.
func (s *indexSink) entry(e *index.Entry) {
	start := len(s.b)
	for _, t := range []time.Time{e.CreatedAt, e.ModifiedAt} {
		sec, nsec, err := indexTime(t)
		if err != nil && s.err == nil {
			s.err = err
		}
		s.b = binary.BigEndian.AppendUint32(s.b, sec)
		s.b = binary.BigEndian.AppendUint32(s.b, nsec)
	}
	for _, v := range []uint32{e.Dev, e.Inode, uint32(e.Mode), e.UID, e.GID, e.Size} {
		s.b = binary.BigEndian.AppendUint32(s.b, v)
	}
	s.b = append(s.b, e.Hash[:]...)
	flags := uint16(e.Stage&0x3) << 12
	if l := len(e.Name); l < 0xfff {
		flags |= uint16(l)
	} else {
		flags |= 0xfff
	}
	if e.IntentToAdd || e.SkipWorktree {
		var ext uint16
		if e.IntentToAdd {
			ext |= 1 << 13
		}
		if e.SkipWorktree {
			ext |= 1 << 14
		}
		s.b = binary.BigEndian.AppendUint16(s.b, flags|0x4000)
		s.b = binary.BigEndian.AppendUint16(s.b, ext)
	} else {
		s.b = binary.BigEndian.AppendUint16(s.b, flags)
	}
	s.b = append(s.b, e.Name...)
	for range 8 - (len(s.b)-start)%8 {
		s.b = append(s.b, 0)
	}
	s.spill()
}

func (s *indexSink) spill() {
	if len(s.b) >= indexChunk {
		s.flush()
	}
}

func (s *indexSink) flush() {
	if s.err == nil {
		s.h.Write(s.b)
		_, s.err = s.w.Write(s.b)
	}
	s.b = s.b[:0]
}

// close writes what is buffered and the checksum.
func (s *indexSink) close() error {
	s.flush()
	if s.err == nil {
		_, s.err = s.w.Write(s.h.Sum(nil))
	}
	return s.err
}

// indexTime is an index entry's time as go-git's Encoder writes it.
func indexTime(t time.Time) (uint32, uint32, error) {
	if t.IsZero() {
		return 0, 0, nil
	}
	if t.Unix() < 0 || t.UnixNano() < 0 {
		return 0, 0, index.ErrInvalidTimestamp
	}
	return uint32(t.Unix()), uint32(t.Nanosecond()), nil
}

// byName is the order go-git's Encoder sorts entries in (sort.Sort by name,
// so the same input comes out in the same order).
type byName []*index.Entry

func (l byName) Len() int           { return len(l) }
func (l byName) Swap(i, j int)      { l[i], l[j] = l[j], l[i] }
func (l byName) Less(i, j int) bool { return l[i].Name < l[j].Name }

// entryLayout is where the parts of the index entry at the start of b are:
// its size with padding, and its name at b[nameAt:nameAt+nameLen]. When b
// holds less than the entry, need is how many bytes to give (for a name
// that ends with a NUL, of 4,095 bytes or more, a guess larger than b).
func entryLayout(b []byte) (size, nameAt, nameLen, need int) {
	const fixed = 62
	if len(b) < fixed+2 {
		return 0, 0, 0, fixed + 2 // the smallest entry is 64 bytes
	}
	flags := binary.BigEndian.Uint16(b[60:])
	nameAt = fixed
	if flags&0x4000 != 0 {
		nameAt += 2
	}
	nameLen = int(flags & 0xfff)
	if nameLen == 0xfff {
		z := bytes.IndexByte(b[nameAt:], 0)
		if z < 0 {
			return 0, 0, 0, 2 * len(b)
		}
		nameLen = z
	}
	// at least one NUL after the name, up to a multiple of 8
	size = nameAt + nameLen + 8 - (nameAt+nameLen)%8
	if size > len(b) {
		return 0, 0, 0, size
	}
	return size, nameAt, nameLen, 0
}

// decodeEntry decodes the entry of an entryLayout, as go-git's Decoder does.
func decodeEntry(b []byte, nameAt, nameLen int) *index.Entry {
	be := binary.BigEndian
	e := &index.Entry{
		Dev: be.Uint32(b[16:]), Inode: be.Uint32(b[20:]), Mode: filemode.FileMode(be.Uint32(b[24:])),
		UID: be.Uint32(b[28:]), GID: be.Uint32(b[32:]), Size: be.Uint32(b[36:]),
	}
	if sec, nsec := be.Uint32(b[0:]), be.Uint32(b[4:]); sec != 0 || nsec != 0 {
		e.CreatedAt = time.Unix(int64(sec), int64(nsec))
	}
	if sec, nsec := be.Uint32(b[8:]), be.Uint32(b[12:]); sec != 0 || nsec != 0 {
		e.ModifiedAt = time.Unix(int64(sec), int64(nsec))
	}
	copy(e.Hash[:], b[40:60])
	flags := be.Uint16(b[60:])
	e.Stage = index.Stage(flags>>12) & 0x3
	if flags&0x4000 != 0 {
		ext := be.Uint16(b[62:])
		e.IntentToAdd, e.SkipWorktree = ext&(1<<13) != 0, ext&(1<<14) != 0
	}
	e.Name = string(b[nameAt : nameAt+nameLen])
	return e
}

// decodeIndex decodes an index file of version 2 or 3 with no extension
// and its entries in git's order (what promoter and git commands write)
// through an indexReader, the entries exactly as go-git's index.Decoder
// reads them, checksum checked; ok is false for any other file, which the
// caller hands to the Decoder. The Decoder reads each field through
// encoding/binary and a TeeReader into the hash (a tenth of a second at
// 100,000 entries); a test checks both give the same index.
func decodeIndex(data []byte) (idx *index.Index, ok bool) {
	r, err := newIndexReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || r.count > len(data)/62 {
		return nil, false
	}
	idx = &index.Index{Version: r.version}
	if r.count > 0 {
		idx.Entries = make([]*index.Entry, 0, r.count)
	}
	for {
		raw, nameAt, nameLen, more, err := r.next()
		if err != nil {
			return nil, false
		}
		if !more {
			break
		}
		idx.Entries = append(idx.Entries, decodeEntry(raw, nameAt, nameLen))
	}
	if r.finish() != nil || r.extensions {
		return nil, false // the Decoder reads the extensions
	}
	return idx, true
}

// errNotStreamed is an indexReader's answer for an index file it does not
// read: version 4, a required extension, entries out of git's order, a bad
// checksum or bytes that are no index. The caller decodes such a file whole
// (go-git's Decoder), which names what is wrong with it.
var errNotStreamed = errors.New("index file not streamed")

// indexReader reads an index file of version 2 or 3 one entry at a time,
// hashing what it reads, so a commit holds only the entries it changes (at
// 50,000 objects per tenant folder a decoded index was 26 MB; issue 18).
type indexReader struct {
	br         *bufio.Reader
	h          hash.Hash
	sum        [indexSum]byte
	version    uint32
	count      int // entries in the file
	left       int // entries not read yet
	prev       []byte
	prevStage  index.Stage
	extensions bool // finish read at least one
}

func newIndexReader(src io.ReaderAt, size int64) (*indexReader, error) {
	if size < indexHead+indexSum {
		return nil, errNotStreamed
	}
	r := &indexReader{h: githash.New(githash.CryptoType)}
	if _, err := src.ReadAt(r.sum[:], size-indexSum); err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	r.br = bufio.NewReaderSize(io.TeeReader(io.NewSectionReader(src, 0, size-indexSum), r.h), indexChunk)
	var head [indexHead]byte
	if _, err := io.ReadFull(r.br, head[:]); err != nil {
		return nil, errNotStreamed
	}
	r.version = binary.BigEndian.Uint32(head[4:])
	if string(head[:4]) != "DIRC" || (r.version != 2 && r.version != 3) {
		return nil, errNotStreamed
	}
	r.count = int(binary.BigEndian.Uint32(head[8:]))
	r.left = r.count
	return r, nil
}

// next returns the next entry's bytes (valid until the next call) and
// where its name is in them; ok is false after the last entry.
func (r *indexReader) next() (raw []byte, nameAt, nameLen int, ok bool, err error) {
	if r.left == 0 {
		return nil, 0, 0, false, nil
	}
	for want := 64; ; {
		b, perr := r.br.Peek(want)
		size, at, n, need := entryLayout(b)
		if need == 0 {
			raw, nameAt, nameLen = b[:size], at, n
			break
		}
		if want = min(need, r.br.Size()); want <= len(b) || perr != nil {
			return nil, 0, 0, false, errNotStreamed // the file ends inside the entry, or a name longer than the buffer
		}
	}
	name := raw[nameAt : nameAt+nameLen]
	stage := index.Stage(binary.BigEndian.Uint16(raw[60:])>>12) & 0x3
	if c := bytes.Compare(name, r.prev); c < 0 || c == 0 && stage < r.prevStage {
		return nil, 0, 0, false, errNotStreamed
	}
	r.prev, r.prevStage = append(r.prev[:0], name...), stage
	r.left--
	if _, err := r.br.Discard(len(raw)); err != nil {
		return nil, 0, 0, false, errNotStreamed
	}
	return raw, nameAt, nameLen, true, nil
}

// finish reads the extensions after the entries, which a commit drops (they
// are caches the new content invalidates), and checks the checksum.
func (r *indexReader) finish() error {
	for r.left > 0 {
		if _, _, _, _, err := r.next(); err != nil {
			return err
		}
	}
	for {
		b, err := r.br.Peek(8)
		if len(b) == 0 && err == io.EOF {
			break
		}
		if len(b) < 8 || b[0] < 'A' || b[0] > 'Z' { // a required extension: not ours to drop
			return errNotStreamed
		}
		r.extensions = true
		n := 8 + int64(binary.BigEndian.Uint32(b[4:]))
		if m, _ := io.CopyN(io.Discard, r.br, n); m != n {
			return errNotStreamed
		}
	}
	if !bytes.Equal(r.h.Sum(nil), r.sum[:]) {
		return errNotStreamed
	}
	return nil
}

// indexScan is what a commit reads of git's index under the lock: of each
// path it changes, the entries the index holds; rewrite copies the others.
type indexScan struct {
	src     io.ReaderAt
	size    int64
	version uint32
	count   int
	// last is the entry of each changed path the index holds (of a
	// conflicted path, its last stage's); stages is how many entries it has.
	last   map[string]*index.Entry
	stages map[string]int
}

// scanIndex reads the index file in src for the entries of paths;
// errNotStreamed says the file is one to decode whole.
func scanIndex(src io.ReaderAt, size int64, paths []string) (*indexScan, error) {
	want := slices.Clone(paths)
	slices.Sort(want)
	want = slices.Compact(want)
	r, err := newIndexReader(src, size)
	if err != nil {
		return nil, err
	}
	s := &indexScan{src: src, size: size, version: r.version, count: r.count, last: map[string]*index.Entry{}, stages: map[string]int{}}
	j := 0
	for j < len(want) {
		raw, nameAt, nameLen, ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		name := raw[nameAt : nameAt+nameLen]
		for j < len(want) && want[j] < string(name) {
			j++
		}
		if j < len(want) && want[j] == string(name) {
			s.last[want[j]] = decodeEntry(raw, nameAt, nameLen)
			s.stages[want[j]]++
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// rewrite writes the index to w with the entries of put (which it sorts by
// name) in place of all entries of their paths and no entry of the paths in
// drop, with no extension.
func (s *indexScan) rewrite(w io.Writer, put []*index.Entry, drop map[string]bool) error {
	sort.Sort(byName(put))
	count := s.count + len(put)
	for _, e := range put {
		count -= s.stages[e.Name]
	}
	for p := range drop {
		count -= s.stages[p]
	}
	r, err := newIndexReader(s.src, s.size)
	if err != nil {
		return fmt.Errorf("read index again: %w", err)
	}
	sink := newIndexSink(w, s.version, count)
	wrote, j := 0, 0
	var replaced []byte
	for {
		raw, nameAt, nameLen, ok, err := r.next()
		if err != nil {
			return fmt.Errorf("read index again: %w", err)
		}
		if !ok {
			break
		}
		name := raw[nameAt : nameAt+nameLen]
		for j < len(put) && put[j].Name < string(name) {
			sink.entry(put[j])
			j, wrote = j+1, wrote+1
		}
		switch {
		case j < len(put) && put[j].Name == string(name):
			sink.entry(put[j])
			j, wrote = j+1, wrote+1
			replaced = append(replaced[:0], name...)
		case bytes.Equal(name, replaced) || drop[string(name)]:
		default:
			sink.raw(raw)
			wrote++
		}
	}
	for ; j < len(put); j++ {
		sink.entry(put[j])
		wrote++
	}
	if err := r.finish(); err != nil {
		return fmt.Errorf("read index again: %w", err)
	}
	if wrote != count {
		return fmt.Errorf("write index: %d entries written, %d counted: the index changed under git's lock", wrote, count)
	}
	return sink.close()
}
