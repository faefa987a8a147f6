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
	start := s.I
	digits := func() bool {
		n := s.I
		for s.I < len(s.B) && '0' <= s.B[s.I] && s.B[s.I] <= '9' {
			s.I++
		}
		return s.I > n
	}
	if s.I < len(s.B) && s.B[s.I] == '-' {
		s.I++
	}
	if s.I < len(s.B) && s.B[s.I] == '0' {
		s.I++
	} else if !digits() {
		return nil, false, false
	}
	integer = true
	if s.I < len(s.B) && s.B[s.I] == '.' {
		s.I++
		if !digits() {
			return nil, false, false
		}
		integer = false
	}
	if s.I < len(s.B) && (s.B[s.I] == 'e' || s.B[s.I] == 'E') {
		s.I++
		if s.I < len(s.B) && (s.B[s.I] == '+' || s.B[s.I] == '-') {
			s.I++
		}
		if !digits() {
			return nil, false, false
		}
		integer = false
	}
	return s.B[start:s.I], integer, true
}

// String takes a string as it stands, quotes included: no control
// character, and only JSON's escapes (a \u with four hex digits). escaped
// says whether it holds a backslash. Its bytes are not checked as UTF-8
// (encoding/json takes invalid UTF-8 and replaces it).
func (s *Scanner) String() (raw []byte, escaped, ok bool) {
	s.WS()
	start := s.I
	if s.I == len(s.B) || s.B[s.I] != '"' {
		return nil, false, false
	}
	for s.I++; s.I < len(s.B); s.I++ {
		switch c := s.B[s.I]; {
		case c == '"':
			s.I++
			return s.B[start:s.I], escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			s.I++
			if s.I == len(s.B) {
				return nil, false, false
			}
			switch s.B[s.I] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.B)-s.I < 5 || !isHex(s.B[s.I+1:s.I+5]) {
					return nil, false, false
				}
				s.I += 4
			default:
				return nil, false, false
			}
		}
	}
	return nil, false, false
}

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
// (the raw form String returns) as soon as it is read, then, past the
// colon, value reads the value. Each reports whether it could go on.
func (s *Scanner) Members(key func(raw []byte, escaped bool) bool, value func() bool) bool {
	if !s.Next('{') {
		return false
	}
	if s.Next('}') {
		return true
	}
	for {
		raw, escaped, ok := s.String()
		if !ok || !key(raw, escaped) || !s.Next(':') || !value() {
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
