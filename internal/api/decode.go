package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode"

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
func checkDuplicateKeys(body []byte, v any) error {
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
func memberType(t reflect.Type, k string) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem()
	case reflect.Struct:
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
	return nil
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
