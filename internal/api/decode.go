package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/rcq-project/rcq/internal/jsonscan"
	"github.com/rcq-project/rcq/internal/rcq"
)

// decode reads a JSON body into v strictly: JSON media type (or none),
// within the route's size limit, no unknown fields, no duplicate keys, no
// trailing data, and numbers that fit their fields. Errors name the field.
func decode(r *http.Request, v any) error {
	if err := checkBodyType(r); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(mbe.Limit)
		}
		return rcq.Errorf(rcq.KindInvalid, "bad_body", "cannot read the request body")
	}
	return decodeBytes(body, v)
}

// checkBodyType refuses a body that is not JSON (no Content-Type is taken as
// JSON: on TCP, hygiene has already refused a state change without one).
func checkBodyType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if !isJSON(ct) {
			return rcq.Errorf(rcq.KindUnsupported, "unsupported_media_type", "Content-Type must be application/json, not %q", ct)
		}
	}
	return nil
}

func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return rcq.Errorf(rcq.KindInvalid, "empty_body", "the request needs a JSON body")
	}
	if err := checkDuplicateKeys(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return rcq.Errorf(rcq.KindInvalid, "trailing_data", "the body must hold exactly one JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var re *rcq.Error
	switch {
	case errors.As(err, &re): // a type's own UnmarshalJSON (apitype.DependencyList)
		return re
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return rcq.Invalid(field, "expected %s, got a JSON %s", describeType(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return rcq.Errorf(rcq.KindInvalid, "bad_json", "malformed JSON at byte %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return rcq.Errorf(rcq.KindInvalid, "unknown_field", "unknown field %q", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return rcq.Errorf(rcq.KindInvalid, "bad_json", "malformed JSON: unexpected end of input")
	}
	return rcq.Errorf(rcq.KindInvalid, "bad_json", "malformed JSON: %v", err)
}

func describeType(kind string) string {
	switch kind {
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		return "a whole number in range"
	case "float64", "float32":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "map", "struct":
		return "an object"
	}
	return kind
}

// checkDuplicateKeys refuses an object that names a key twice: encoding/json
// would silently keep the last, so {"priority":1,"priority":10} could slip a
// value past a proxy that checked the first. v is what the body decodes into:
// an object bound for a struct names a field case-insensitively, as
// encoding/json matches it ("priority" and "Priority" are one field), while
// an object bound for a map keeps its keys exact (env A and a are two).
//
// It walks the body once with a scanner of its own (json.Decoder.Token
// allocated for every token: a quarter of rcqd's CPU for a submit carrying
// its environment), and leaves any syntax error to the decode that follows,
// which reports it with its context.
func checkDuplicateKeys(body []byte, v any) error {
	s := keyScanner{Scanner: jsonscan.Scanner{B: body}}
	t := deref(reflect.TypeOf(v))
	for !s.End() {
		if err := s.value(t, 0); err != nil || s.bad {
			return err
		}
	}
	return nil
}

// maxDepth is encoding/json's nesting limit: a deeper body is refused by the
// decode, so the scan need not (and must not, recursing) go further.
const maxDepth = 10000

// keyScanner walks JSON for checkDuplicateKeys; bad is set at the first
// syntax error, which ends the walk.
type keyScanner struct {
	jsonscan.Scanner
	bad bool
}

// value walks one value bound for t (nil: not known).
func (s *keyScanner) value(t reflect.Type, depth int) error {
	if depth > maxDepth {
		s.bad = true
		return nil
	}
	var ok bool
	switch s.Peek() {
	case '{':
		return s.object(t, depth)
	case '[':
		var err error
		ok = s.Elements(func() bool {
			err = s.value(elemType(t), depth+1)
			return err == nil && !s.bad
		})
		if err != nil {
			return err
		}
	case '"':
		_, _, ok = s.String()
	case 't':
		ok = s.Literal("true")
	case 'f':
		ok = s.Literal("false")
	case 'n':
		ok = s.Literal("null")
	default:
		_, _, ok = s.Number()
	}
	s.bad = s.bad || !ok
	return nil
}

func (s *keyScanner) object(t reflect.Type, depth int) error {
	fold := t != nil && t.Kind() == reflect.Struct
	var keys map[string]bool
	var k string
	var err error
	ok := s.Members(func(raw []byte, plain bool) bool {
		k = string(raw[1 : len(raw)-1])
		if !plain && json.Unmarshal(raw, &k) != nil {
			return false
		}
		fk := k
		if fold {
			fk = foldKey(k)
		}
		if keys[fk] {
			err = rcq.Errorf(rcq.KindInvalid, "duplicate_key", "duplicate key %q", k)
			return false
		}
		if keys == nil {
			keys = map[string]bool{}
		}
		keys[fk] = true
		return true
	}, func() bool {
		err = s.value(memberType(t, k), depth+1)
		return err == nil && !s.bad
	})
	if err != nil {
		return err
	}
	s.bad = s.bad || !ok
	return nil
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func elemType(t reflect.Type) reflect.Type {
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}

// memberType is the type the value of key k decodes into inside t: a
// struct's field (matched as encoding/json matches it) or a map's element.
// A struct's answers are remembered (up to maxMemberTypes of them, since
// keys come from requests): the field walk folds every field's name.
func memberType(t reflect.Type, k string) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem()
	case reflect.Struct:
		key := memberKey{t, k}
		if m, ok := memberTypes.Load(key); ok {
			return m.(reflect.Type)
		}
		ft := fieldType(t, k)
		if ft != nil && memberTypesN.Add(1) <= maxMemberTypes {
			memberTypes.Store(key, ft)
		}
		return ft
	}
	return nil
}

type memberKey struct {
	t reflect.Type
	k string
}

var (
	memberTypes  sync.Map // memberKey -> reflect.Type
	memberTypesN atomic.Int64
)

const maxMemberTypes = 4096

// fieldType is memberType for a struct, from its fields.
func fieldType(t reflect.Type, k string) reflect.Type {
	var fold reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			if f.Anonymous {
				if ft := memberType(deref(f.Type), k); ft != nil {
					return ft
				}
				continue
			}
			name = f.Name
		}
		if name == k {
			return f.Type
		}
		if fold == nil && foldKey(name) == foldKey(k) {
			fold = f.Type
		}
	}
	return fold
}

// foldKey maps keys that encoding/json treats as one (equal under Unicode
// simple case folding, as bytes.EqualFold) to one string.
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
