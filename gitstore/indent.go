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
			// the closing quote: one with an even number of backslashes
			// before it (bytes.IndexAny of two bytes goes byte by byte)
			j := i + 1
			for {
				k := bytes.IndexByte(src[j:], '"')
				if k < 0 {
					return dst[:orig], false
				}
				j += k
				bs := 0
				for b := j - 1; b > i && src[b] == '\\'; b-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
				j++
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
