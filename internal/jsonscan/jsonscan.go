// Package jsonscan reads JSON a token at a time, exactly to its grammar,
// for the readers written for one shape where encoding/json's reflection
// cost more than the rest of the work (rcq-show's job, the credentials file,
// rcqd's duplicate-key check: docs/performance.md). Each reader leaves
// whatever it does not take to encoding/json, so this package only has to
// say what is well formed, never to explain what is not.
package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// Scanner reads B from I. Its methods skip white space first and, when what
// follows is not what they read, report false; I is then unspecified.
type Scanner struct {
	B []byte
	I int
}

// WS skips white space.
func (s *Scanner) WS() {
	for s.I < len(s.B) && (s.B[s.I] == ' ' || s.B[s.I] == '\t' || s.B[s.I] == '\n' || s.B[s.I] == '\r') {
		s.I++
	}
}

// End reports whether only white space is left.
func (s *Scanner) End() bool {
	s.WS()
	return s.I == len(s.B)
}

// Peek is the next byte after white space, 0 at the end.
func (s *Scanner) Peek() byte {
	s.WS()
	if s.I == len(s.B) {
		return 0
	}
	return s.B[s.I]
}

// Next takes the byte c if it comes next.
func (s *Scanner) Next(c byte) bool {
	if s.Peek() == c { // never 0: the end
		s.I++
		return true
	}
	return false
}

// Literal takes lit (true, false, null) if it comes next.
func (s *Scanner) Literal(lit string) bool {
	s.WS()
	if len(s.B)-s.I >= len(lit) && string(s.B[s.I:s.I+len(lit)]) == lit {
		s.I += len(lit)
		return true
	}
	return false
}

// Number takes a number as JSON's grammar has it (strconv alone would also
// take "+1", ".5", "0x10" or "Inf"); integer is false when it has a
// fraction or an exponent.
func (s *Scanner) Number() (tok []byte, integer, ok bool) {
	s.WS()
	b, start := s.B, s.I
	i := start
	digits := func() bool {
		n := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return nil, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return nil, false, false
		}
		integer = false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false, false
		}
		integer = false
	}
	s.I = i
	return b[start:i], integer, true
}

// String takes a string as it stands, quotes included: no control
// character, and only JSON's escapes (a \u with four hex digits). plain
// says it holds neither an escape nor a byte outside ASCII, so the bytes
// between its quotes are its value as they stand; otherwise Unquote
// decodes it. Its bytes are not checked as UTF-8 (encoding/json takes
// invalid UTF-8 and replaces it).
func (s *Scanner) String() (raw []byte, plain, ok bool) {
	// The loop works on locals (through s, every byte reloaded B and I) and
	// runs over plain bytes by table: this is the hot loop of decoding a
	// page of rows.
	b, start := s.B, s.I
	if start < len(b) && b[start] != '"' {
		s.WS()
		start = s.I
	}
	if start == len(b) || b[start] != '"' {
		return nil, false, false
	}
	plain = true
	for i := start + 1; i < len(b); i++ {
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			s.I = i + 1
			return b[start:s.I], plain, true
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			plain = false
		default: // a backslash
			plain = false
			i++
			if i == len(b) {
				return nil, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 || !isHex(b[i+1:i+5]) {
					return nil, false, false
				}
				i += 4
			default:
				return nil, false, false
			}
		}
	}
	return nil, false, false
}

// plainByte: the bytes a string holds as they stand, printable ASCII but
// the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Unquote is the value of a string String took, as encoding/json decodes
// it, when that needs no judgement: valid UTF-8 and no \u escape of a
// surrogate (encoding/json replaces broken ones with U+FFFD); ok is false
// otherwise.
func Unquote(raw []byte) (string, bool) {
	body := raw[1 : len(raw)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(body), true
	}
	buf := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n == 1 {
				return "", false
			}
			buf = append(buf, body[i:i+n]...)
			i += n
		case c != '\\':
			buf = append(buf, c)
			i++
		default:
			e := body[i+1] // String took only complete escapes
			i += 2
			switch e {
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				v, _ := strconv.ParseUint(string(body[i:i+4]), 16, 16)
				if v >= 0xd800 && v < 0xe000 {
					return "", false
				}
				buf = utf8.AppendRune(buf, rune(v))
				i += 4
			default: // " \ /
				buf = append(buf, e)
			}
		}
	}
	return string(buf), true
}

// Members reads an object: for each member, key is called with its key
// (raw and plain as String returns them) as soon as it is read, then, past
// the colon, value reads the value. Each reports whether it could go on.
func (s *Scanner) Members(key func(raw []byte, plain bool) bool, value func() bool) bool {
	if !s.Next('{') {
		return false
	}
	if s.Next('}') {
		return true
	}
	for {
		raw, plain, ok := s.String()
		if !ok || !key(raw, plain) || !s.Next(':') || !value() {
			return false
		}
		if s.Next('}') {
			return true
		}
		if !s.Next(',') {
			return false
		}
	}
}

// Elements reads an array, calling elem for each element.
func (s *Scanner) Elements(elem func() bool) bool {
	if !s.Next('[') {
		return false
	}
	if s.Next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.Next(']') {
			return true
		}
		if !s.Next(',') {
			return false
		}
	}
}

// Value takes any one value, as it stands: for a member or an element its
// reader does not want.
func (s *Scanner) Value() bool {
	switch s.Peek() {
	case '"':
		_, _, ok := s.String()
		return ok
	case '{':
		return s.Members(func([]byte, bool) bool { return true }, s.Value)
	case '[':
		return s.Elements(s.Value)
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	}
	_, _, ok := s.Number()
	return ok
}
