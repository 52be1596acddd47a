package spconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// This file holds the splitter DecodeExport uses for the "objects" array
// (issue 9). encoding/json.Decoder scans every entry twice to cut it out of
// the stream (once to find its end, once more to copy it into a RawMessage),
// and the one-pass entry scanner then scans it a third time. The splitter
// reads the stream in large chunks and finds each entry's byte span with a
// string-aware bracket matcher that does not validate; the entry scanner
// (entryscan.go) validates the span fully.
//
// Whatever the splitter is not sure to handle exactly as the Decoder did
// (a span that is not valid JSON, a separator other than ',' or ']', an
// element that is not an object, the end of the stream, a read error, an
// element larger than splitSizes.maxSpan) is handed to a json.Decoder that
// takes over the stream at the last element boundary, put into the same
// state by a short prefix, and runs the same code the Decoder-based
// implementation ran for one step; the splitter then goes on from what the
// Decoder has not used. A span that is valid JSON but too unusual for the
// entry scanner goes to the reference entry path (newEntryReference)
// without a Decoder: the Decoder would have cut out the same bytes. Results, error messages and the entry index are
// therefore the same by construction; FuzzDecodeExportMatchesReference
// checks it. The envelope around the array (version, timestamp, tenant,
// description, options, unknown keys) is a few hundred bytes and stays with
// a json.Decoder; after the array a new Decoder continues the envelope from
// the splitter's buffer.
//
// Not kept: the Offset of a *json.SyntaxError wrapped in an error from a
// hand-over Decoder counts from the takeover point, prefix included. Error
// messages do not include offsets, and the old Decoder's were not document
// positions either (for an error inside a value it counts only the bytes of
// the values it decoded).

// splitSizes are the splitter's buffer sizes; tests use small ones to
// exercise refills, growth and the hand-over of huge elements.
type splitSizes struct {
	// chunk is the initial buffer size.
	chunk int
	// maxSpan bounds the bytes one element may hold in the buffer; a larger
	// element (or a malformed one whose brackets never close) goes to a
	// json.Decoder, which validates as it reads.
	maxSpan int
	// steps, when set, counts the Decoder steps taken (for tests).
	steps *int
}

var defaultSplit = splitSizes{chunk: 256 << 10, maxSpan: 16 << 20}

// Prefixes that put a fresh json.Decoder into the state the Decoder-based
// implementation was in at a takeover point.
const (
	prefixArrayStart = `{"":[`   // just after the objects array's '['
	prefixArrayNext  = `{"":[0 ` // just after an element
	prefixAfterArray = `{"":0 `  // just after the objects array's ']'
)

// stickyReader remembers the first error of r and returns it from then on,
// so a reader whose error is not repeatable still ends every consumer.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// handoff is what a json.Decoder reads when it takes over the stream: bytes
// that were already read (with a prefix), then the rest of the stream.
type handoff struct {
	data []byte // not yet read by the Decoder
	src  *stickyReader
}

func (h *handoff) Read(p []byte) (int, error) {
	if len(h.data) > 0 {
		n := copy(p, h.data)
		h.data = h.data[n:]
		return n, nil
	}
	return h.src.Read(p)
}

// newHandoffDecoder returns a Decoder over prefix, data (copied) and the rest
// of src, with the prefix's tokens consumed.
func newHandoffDecoder(prefix string, data []byte, src *stickyReader) (*json.Decoder, *handoff) {
	b := make([]byte, 0, len(prefix)+len(data))
	b = append(append(b, prefix...), data...)
	h := &handoff{data: b, src: src}
	dec := json.NewDecoder(h)
	// The prefix is complete and valid and in the handoff's first bytes, so
	// none of these fail.
	var err error
	switch prefix {
	case prefixArrayStart, prefixArrayNext:
		for range 3 { // '{', "", '['
			if _, err = dec.Token(); err != nil {
				break
			}
		}
		if err == nil && prefix == prefixArrayNext {
			var zero int
			err = dec.Decode(&zero)
		}
	case prefixAfterArray:
		if _, err = dec.Token(); err == nil { // '{'
			if _, err = dec.Token(); err == nil { // ""
				var zero int
				err = dec.Decode(&zero)
			}
		}
	}
	if err != nil {
		panic("spconfig: handoff prefix " + prefix + ": " + err.Error())
	}
	return dec, h
}

// splitter reads the objects array. buf[pos:] is unread; buf[mark:] must be
// kept when the buffer is refilled (the last element boundary, where a
// Decoder would take over).
type splitter struct {
	splitSizes
	src  *stickyReader
	buf  []byte
	pos  int
	mark int
}

// fill reads more bytes into buf, keeping buf[mark:] and moving it to the
// front when the buffer is full. It reports false at the end of the stream,
// on a read error, and when the kept span would exceed maxSpan.
func (s *splitter) fill() bool {
	if len(s.buf) == cap(s.buf) {
		keep := len(s.buf) - s.mark
		if keep >= s.maxSpan {
			return false
		}
		if s.mark == 0 || keep > cap(s.buf)/2 {
			nb := make([]byte, keep, max(2*cap(s.buf), s.chunk))
			copy(nb, s.buf[s.mark:])
			s.buf = nb
		} else {
			s.buf = s.buf[:copy(s.buf, s.buf[s.mark:])]
		}
		s.pos -= s.mark
		s.mark = 0
	}
	for range 100 { // a reader that keeps returning 0, nil is broken
		n, err := s.src.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	s.src.err = io.ErrNoProgress
	return false
}

// peek skips whitespace and returns the next byte, reading as needed.
func (s *splitter) peek() (byte, bool) {
	for {
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// Byte classes for span: what matters outside strings.
const (
	clsOther = iota
	clsQuote
	clsOpenObject
	clsOpenArray
	clsCloseObject
	clsCloseArray
)

var spanClass = [256]uint8{
	'"': clsQuote,
	'{': clsOpenObject, '[': clsOpenArray,
	'}': clsCloseObject, ']': clsCloseArray,
}

// maxSpanDepth bounds the bracket matcher; deeper elements go to a Decoder
// (the entry scanner gives up at maxScanDepth anyway).
const maxSpanDepth = 256

// span finds the end of the object or array that starts at buf[pos],
// matching brackets outside strings without validating anything else. It
// returns the end offset in buf (pos is unchanged) or false when the element
// must go to a Decoder: the stream ended, a read failed, a closing bracket
// does not match, or the element is too deep or too large.
func (s *splitter) span() (int, bool) {
	var open [maxSpanDepth / 64]uint64 // bit set: '[' at that depth
	depth := 0
	i := s.pos
	inString := false
	for {
		if inString {
			for {
				q := bytes.IndexByte(s.buf[i:], '"')
				if q < 0 {
					i = len(s.buf)
					break
				}
				q += i
				i = q + 1
				bs := 0 // backslashes before the quote; the opening quote bounds the loop
				for j := q - 1; s.buf[j] == '\\'; j-- {
					bs++
				}
				if bs%2 == 0 {
					inString = false
					break
				}
			}
		}
		if !inString {
			for i < len(s.buf) {
				c := spanClass[s.buf[i]]
				i++
				switch c {
				case clsOther:
					continue
				case clsQuote:
					inString = true
				case clsOpenObject, clsOpenArray:
					if depth == maxSpanDepth {
						return 0, false
					}
					w, b := depth/64, uint64(1)<<(depth%64)
					if c == clsOpenArray {
						open[w] |= b
					} else {
						open[w] &^= b
					}
					depth++
					continue
				default: // closing bracket
					if depth == 0 {
						return 0, false
					}
					depth--
					isArray := open[depth/64]&(uint64(1)<<(depth%64)) != 0
					if isArray != (c == clsCloseArray) {
						return 0, false
					}
					if depth == 0 {
						return i, true
					}
					continue
				}
				break // entered a string
			}
			if inString {
				continue
			}
		}
		// i == len(buf): read more; fill may move the kept bytes.
		before := s.mark
		if !s.fill() {
			return 0, false
		}
		i -= before - s.mark
	}
}

// decodeObjects reads the objects array of an export document after its
// '[', calling fn for each entry. dec and h are the Decoder that read the
// '[' and its handoff; it returns the Decoder to continue the envelope with
// (after the array's ']') and its handoff.
func decodeObjects(dec *json.Decoder, h *handoff, fn func(i int, e Entry) error, sz splitSizes) (*json.Decoder, *handoff, error) {
	s := &splitter{splitSizes: sz, src: h.src}
	s.load(dec, h)
	for i, first := 0, true; ; {
		s.mark = s.pos
		c, ok := s.peek()
		if ok && !first {
			switch c {
			case ',':
				s.pos++
				c, ok = s.peek()
				ok = ok && c == '{' // "]" after "," is the Decoder's to report
			case ']':
			default:
				ok = false
			}
		}
		switch {
		case ok && c == ']':
			s.pos++
			ndec, nh := newHandoffDecoder(prefixAfterArray, s.buf[s.pos:], s.src)
			return ndec, nh, nil
		case ok && c == '{':
			if end, ok := s.span(); ok {
				raw := s.buf[s.pos:end]
				e, ok := scanEntry(raw, false) // copies: the buffer is reused
				var err error
				if !ok && json.Valid(raw) {
					// Valid but unusual: the Decoder would have cut out the same
					// bytes; the reference path decides as before.
					e, err = newEntryReference(raw)
					ok = true
				}
				if ok {
					if err != nil {
						return nil, nil, &DecodeError{Index: i, Err: err}
					}
					s.pos = end
					if err := fn(i, e); err != nil {
						return nil, nil, &DecodeError{Index: i, Self: e.Self, Err: err}
					}
					i, first = i+1, false
					continue
				}
			}
		}
		// Anything else: a Decoder takes over at the mark for one step.
		done, err := s.decoderStep(i, first, fn)
		if err != nil {
			return nil, nil, err
		}
		if done {
			ndec, nh := newHandoffDecoder(prefixAfterArray, s.buf[s.pos:], s.src)
			return ndec, nh, nil
		}
		i, first = i+1, false
	}
}

// load takes over what dec and h have read and not used.
func (s *splitter) load(dec *json.Decoder, h *handoff) {
	rest, _ := io.ReadAll(dec.Buffered()) // a bytes.Reader: no error
	n := len(rest) + len(h.data)
	if cap(s.buf) < n || cap(s.buf) < s.chunk {
		s.buf = make([]byte, 0, max(n+s.chunk/2, s.chunk))
	}
	s.buf = append(append(s.buf[:0], rest...), h.data...)
	h.data = nil
	s.pos, s.mark = 0, 0
}

// decoderStep runs one iteration of the Decoder-based loop (the element at
// index i, or the end of the array) on a Decoder that takes over the stream
// at the mark, then gives the rest back to the splitter. done reports the
// end of the array.
func (s *splitter) decoderStep(i int, first bool, fn func(i int, e Entry) error) (done bool, err error) {
	if s.steps != nil {
		*s.steps++
	}
	prefix := prefixArrayNext
	if first {
		prefix = prefixArrayStart
	}
	dec, h := newHandoffDecoder(prefix, s.buf[s.mark:], s.src)
	if !dec.More() {
		if _, err := dec.Token(); err != nil {
			return false, &DecodeError{Index: -1, Err: fmt.Errorf("objects: unterminated array (truncated download?): %w", err)}
		}
		s.load(dec, h)
		return true, nil
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return false, &DecodeError{Index: i, Err: fmt.Errorf("bad JSON (truncated download?): %w", err)}
	}
	e, ok := scanEntry(raw, true) // raw is ours: the entry may keep it
	if !ok {
		if e, err = newEntryReference(raw); err != nil {
			return false, &DecodeError{Index: i, Err: err}
		}
	}
	if err := fn(i, e); err != nil {
		return false, &DecodeError{Index: i, Self: e.Self, Err: err}
	}
	s.load(dec, h)
	return false, nil
}
