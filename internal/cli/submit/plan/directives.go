package plan

import (
	"fmt"
	"strings"
)

// Directive is one #RCQ or #SBATCH line of a script, split into words.
type Directive struct {
	Prefix string   // "RCQ" or "SBATCH"
	Line   int      // 1-based line number in the script
	Words  []string // the rest of the line, split like a shell command line
}

// Source names where the directive came from, for messages: "#SBATCH (line 3)".
func (d Directive) Source() string { return fmt.Sprintf("#%s (line %d)", d.Prefix, d.Line) }

// ParseDirectives reads the directives at the top of script, as sbatch does:
// only lines starting exactly with "#RCQ" or "#SBATCH" (column 0,
// case-sensitive, followed by a space, a tab or the end of the line) count;
// blank lines, the #! line, other comments and indented directives are
// skipped; scanning stops at the first line whose first non-space character
// is not '#'. The rest of a directive line is split into words like a shell
// command line, without variable expansion.
func ParseDirectives(script string) ([]Directive, error) {
	var out []Directive
	for i, line := range strings.Split(script, "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" {
			continue
		}
		if trimmed[0] != '#' {
			break
		}
		for _, prefix := range []string{"RCQ", "SBATCH"} {
			rest, ok := strings.CutPrefix(line, "#"+prefix)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			words, err := SplitWords(rest)
			if err != nil {
				return nil, fmt.Errorf("#%s (line %d): %w", prefix, i+1, err)
			}
			out = append(out, Directive{Prefix: prefix, Line: i + 1, Words: words})
		}
	}
	return out, nil
}

// SplitWords splits s like a POSIX shell splits a command line, without
// expansions: blanks separate words; single quotes keep everything literally;
// double quotes keep everything but \" \\ \$ \` and \newline; a backslash
// outside quotes keeps the next character; an unquoted '#' at the start of a
// word starts a comment.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case ch == '#' && !in:
			return words, nil
		case ch == '\\':
			in = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case ch == '\'':
			in = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case ch == '"':
			in = true
			closed := false
			for i++; i < len(s); i++ {
				c := s[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						cur.WriteByte(s[i])
					}
					continue
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote")
			}
		default:
			in = true
			cur.WriteByte(ch)
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
