package jsonscan

import (
	"encoding/json"
	"testing"
)

// A number or string the scanner takes whole is one json.Valid takes, and
// Unquote gives what encoding/json decodes, whenever it answers at all.
func FuzzScalars(f *testing.F) {
	for _, s := range []string{`0`, `-0.5e+7`, `01`, `+1`, `.5`, `1.`, `1e`, `"a\n\u00e9\/"`, `"\ud83d\ude00"`, "\"\xff\"", `"\x"`, `"` + "\x01" + `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := Scanner{B: in}
		if _, _, ok := s.Number(); ok && s.End() && !json.Valid(in) {
			t.Fatalf("Number took %q, which is not JSON", in)
		}
		s = Scanner{B: in}
		raw, _, ok := s.String()
		if !ok || !s.End() {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("String took %q, which is not JSON", in)
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := Unquote(raw); ok && got != want {
			t.Fatalf("Unquote(%q) = %q, encoding/json %q", raw, got, want)
		}
	})
}

func TestScalars(t *testing.T) {
	for in, want := range map[string]bool{`0`: true, `-0.5e+7`: true, `12`: true, `01`: false, `+1`: false, `.5`: false, `1.`: false, `1e`: false, `-`: false} {
		s := Scanner{B: []byte(in)}
		_, _, ok := s.Number()
		if got := ok && s.End(); got != want {
			t.Errorf("Number(%s) whole: %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]string{`"a"`: "a", `"a\n\u00e9\/\\\""`: "a\né/\\\"", `"é"`: "é"} {
		s := Scanner{B: []byte(in)}
		raw, _, ok := s.String()
		got, uok := Unquote(raw)
		if !ok || !uok || got != want {
			t.Errorf("String+Unquote(%s) = %q %v %v, want %q", in, got, ok, uok, want)
		}
	}
	for _, in := range []string{`"\ud83d\ude00"`, "\"\xff\""} {
		s := Scanner{B: []byte(in)}
		raw, _, ok := s.String()
		if _, uok := Unquote(raw); !ok || uok {
			t.Errorf("%s: String %v, Unquote %v; want it taken and left to encoding/json to decode", in, ok, uok)
		}
	}
}

// FuzzValue: Value takes exactly the texts encoding/json finds valid.
func FuzzValue(f *testing.F) {
	for _, seed := range []string{`{"a":[1,-2.5e3,{"b":null}],"c":"d\u00e9\n","e":true,"f":false}`, `[]`, `{}`, `"x"`, `0`,
		`{"a":}`, `[1,]`, `{"a" 1}`, `01`, `"\x"`, `[` + "\"\xff\"" + `]`, ` [ 1 , 2 ] `} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := Scanner{B: []byte(in)}
		got := s.Value() && s.End()
		if want := json.Valid([]byte(in)); got != want {
			t.Fatalf("Value(%q) = %v, json.Valid %v", in, got, want)
		}
	})
}
