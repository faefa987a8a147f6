package api

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// checkDuplicateKeysTokens is checkDuplicateKeys as it was written first,
// over json.Decoder.Token: the oracle the scanner is held to.
func checkDuplicateKeysTokens(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool         // the next string token in this object is a key
		typ  reflect.Type // what this object or array decodes into; nil if unknown
		val  reflect.Type // what the value of the last key decodes into
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // the real decode reports syntax errors with context
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.obj && top.key {
			fk := k
			if top.typ != nil && top.typ.Kind() == reflect.Struct {
				fk = foldKey(k)
			}
			if top.keys[fk] {
				return rcq.Errorf(rcq.KindInvalid, "duplicate_key", "duplicate key %q", k)
			}
			top.keys[fk] = true
			top.key = false
			top.val = memberType(top.typ, k)
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			var t reflect.Type
			switch {
			case top == nil:
				t = reflect.TypeOf(v)
			case top.obj:
				t = top.val
			default:
				t = elemType(top.typ)
			}
			stack = append(stack, &frame{obj: tok == json.Delim('{'), keys: map[string]bool{}, key: true, typ: deref(t)})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = true
		}
	}
}

// sameDuplicateVerdict fails unless the scanner and the oracle agree on
// body bound for v: both nil, or the same error.
func sameDuplicateVerdict(t *testing.T, body []byte, v any) {
	t.Helper()
	got, want := checkDuplicateKeys(body, v), checkDuplicateKeysTokens(body, v)
	if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
		t.Fatalf("%q bound for %T: scanner %v, json.Decoder.Token %v", body, v, got, want)
	}
}

func TestCheckDuplicateKeysMatchesTokens(t *testing.T) {
	s := `"script":"#!/bin/sh\n"`
	for _, body := range []string{
		`{` + s + `}`, `{` + s + `,"priority":1,"priority":10}`, `{` + s + `,"priority":1,"Priority":10}`,
		`{` + s + `,"env":{"A":"1","a":"2"}}`, `{` + s + `,"env":{"A":"1","A":"2"}}`, `{` + s + `,"k":1,"K":2}`,
		`{` + s + `,"dependencies":[{"type":"afterok","job_id":1},{"type":"afterok","job_id":2,"Job_ID":3}]}`,
		`{"scr\u0069pt":"a","script":"b"}`, `{"a\"b":1,"a\"b":2}`, `{"x":[1,2,{"y":1,"y":2}]}`,
		`{"a":1}{"a":1,"a":2}`, `{"a":1 "a":2}`, `{"a":01,"a":2}`, `{"a":tru,"a":2}`, `{"a":"\x","a":2}`,
		`{"a":"` + "\x01" + `","a":2}`, `{"a":1,,"a":2}`, `[{"a":1},{"a":1,"a":2}]`, `"x"`, `1 2`, `nul`, ``, `{`, `{"a"`,
		`{"a":-0.5e+7,"b":[true,false,null],"a":1}`, `{"\ud83d":1,"\ud83d":2}`, `{"é":1,"É":2}`,
	} {
		sameDuplicateVerdict(t, []byte(body), &apitype.SubmitRequest{})
		sameDuplicateVerdict(t, []byte(body), &[]apitype.SubmitRequest{})
		sameDuplicateVerdict(t, []byte(body), &map[string]any{})
	}
	deep := bytes.Repeat([]byte("["), 20000)
	if err := checkDuplicateKeys(deep, &apitype.SubmitRequest{}); err != nil {
		t.Errorf("20,000 nested arrays: %v, want the decode left to refuse them", err)
	}
	if err := checkDuplicateKeys([]byte(`{"env":{"A":"1","A":"2"}}`), &apitype.SubmitRequest{}); rcq.KindOf(err) != rcq.KindInvalid {
		t.Errorf("a repeated env key: %v, want duplicate_key", err)
	}
}

func FuzzCheckDuplicateKeys(f *testing.F) {
	f.Add([]byte(`{"script":"a","env":{"A":"1","a":"2"},"dependencies":[{"type":"afterok","job_id":1}],"Priority":1}`))
	f.Add([]byte(`[{"script":"a","Script":"b"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameDuplicateVerdict(t, body, &apitype.SubmitRequest{})
		sameDuplicateVerdict(t, body, &[]apitype.SubmitRequest{})
	})
}

func BenchmarkCheckDuplicateKeys(b *testing.B) {
	env := map[string]string{}
	for i := range 45 {
		env[string(rune('A'+i%26))+string(rune('a'+i))] = "/usr/local/bin:/usr/bin:/bin"
	}
	body, err := json.Marshal(apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Name: "wrap", WorkingDir: "/tmp", Env: env, Umask: "0022", Hold: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, impl := range []struct {
		name  string
		check func([]byte, any) error
	}{{"scanner", checkDuplicateKeys}, {"tokens", checkDuplicateKeysTokens}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := impl.check(body, &apitype.SubmitRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
