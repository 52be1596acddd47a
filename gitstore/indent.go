package gitstore

import "bytes"

// indentCompact appends src, which must be valid compact JSON (the Raw of an
// entry spconfig parsed), indented with two spaces exactly as json.Indent
// does with prefix "" and indent "  ". Strings are copied in spans instead
// of byte by byte through encoding/json's scanner (issue 9). It reports
// false, leaving dst as it was, when src holds whitespace outside strings or
// unbalanced brackets; callers then use json.Indent.
func indentCompact(dst, src []byte) ([]byte, bool) {
	orig := len(dst)
	depth := 0
	needIndent := false
	newline := func(d []byte, n int) []byte {
		d = append(d, '\n')
		for range n {
			d = append(d, ' ', ' ')
		}
		return d
	}
	for i := 0; i < len(src); {
		c := src[i]
		if needIndent && c != '}' && c != ']' {
			needIndent = false
			depth++
			dst = newline(dst, depth)
		}
		switch c {
		case '"':
			j := i + 1
			for {
				k := bytes.IndexAny(src[j:], `"\`)
				if k < 0 {
					return dst[:orig], false
				}
				j += k
				if src[j] == '"' {
					break
				}
				j += 2 // an escape: skip the escaped byte
				if j > len(src) {
					return dst[:orig], false
				}
			}
			dst = append(dst, src[i:j+1]...)
			i = j + 1
			continue
		case '{', '[':
			needIndent = true
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = newline(dst, depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if needIndent {
				needIndent = false
			} else {
				depth--
				if depth < 0 {
					return dst[:orig], false
				}
				dst = newline(dst, depth)
			}
			dst = append(dst, c)
		case ' ', '\t', '\n', '\r':
			return dst[:orig], false
		default:
			dst = append(dst, c)
		}
		i++
	}
	if depth != 0 || needIndent {
		return dst[:orig], false
	}
	return dst, true
}
