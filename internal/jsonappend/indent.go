package jsonappend

// Indent appends src, compact JSON as encoding/json writes it (no
// white space outside strings), to dst indented as json.Indent(dst, src, "",
// "  ") would: one value per line, two spaces a level, ": " after keys, and
// empty objects and arrays kept as {} and []. It only copies bytes and
// tracks strings, where json.Indent runs its validating scanner over every
// byte: rcq-queue --json spent a quarter of its time there.
func Indent(dst, src []byte) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		for range depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return append(dst, src[i:]...)
			}
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// Reencode appends src, one JSON value as an encoder with its defaults
// writes it (rcqd's answers), to dst as an encoder with SetEscapeHTML(false)
// writes the value decoded from it (the commands' output): the escapes of
// <, > and & in strings (\u003c, \u003e, \u0026) become the characters,
// and \ufffd, which an encoder writes only for a byte that is not UTF-8,
// becomes the replacement character itself, as decoding made it. Every
// other byte is kept.
func Reencode(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '\\' || i+1 == len(src) {
			dst = append(dst, c)
			continue
		}
		if src[i+1] == 'u' && i+5 < len(src) {
			var r string
			switch string(src[i+2 : i+6]) {
			case "003c":
				r = "<"
			case "003e":
				r = ">"
			case "0026":
				r = "&"
			case "fffd":
				r = "\ufffd"
			}
			if r != "" {
				dst, i = append(dst, r...), i+5
				continue
			}
		}
		// Any other escape is copied whole: the byte after a backslash
		// never starts one.
		dst, i = append(dst, c, src[i+1]), i+1
	}
	return dst
}
