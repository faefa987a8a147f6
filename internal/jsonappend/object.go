package jsonappend

import (
	"strconv"
	"time"
)

// Object appends one JSON object's members, a comma before every member but
// the first, as encoding/json writes a struct's fields. Keys are written as
// given: they must need no escaping (the tags of rcq's API types).
//
//	o := jsonappend.Open(b, true)
//	o.Int("id", 7)
//	o.String("name", name)
//	b = o.Close()
type Object struct {
	B    []byte
	html bool // strings escape <, > and & (encoding/json's default)
	n    int  // members written
}

// Open starts an object at the end of b; html is String's flag for every
// string member.
func Open(b []byte, html bool) Object { return Object{B: append(b, '{'), html: html} }

// Key starts a member: the comma before it and its key, for a value the
// caller appends to o.B.
func (o *Object) Key(k string) {
	if o.n > 0 {
		o.B = append(o.B, ',')
	}
	o.n++
	o.B = append(o.B, '"')
	o.B = append(o.B, k...)
	o.B = append(o.B, '"', ':')
}

// String appends the member k: v.
func (o *Object) String(k, v string) {
	o.Key(k)
	o.B = String(o.B, v, o.html)
}

// Int appends the member k: v.
func (o *Object) Int(k string, v int64) {
	o.Key(k)
	o.B = strconv.AppendInt(o.B, v, 10)
}

// Float appends the member k: v, as Float.
func (o *Object) Float(k string, v float64) {
	o.Key(k)
	o.B = Float(o.B, v)
}

// Bool appends the member k: v.
func (o *Object) Bool(k string, v bool) {
	o.Key(k)
	o.B = strconv.AppendBool(o.B, v)
}

// Time appends the member k: t, as Time.
func (o *Object) Time(k string, t time.Time) {
	o.Key(k)
	o.B = Time(o.B, t)
}

// TimeOrNull appends the member k: *t, or null without a time.
func (o *Object) TimeOrNull(k string, t *time.Time) {
	if t == nil {
		o.Key(k)
		o.B = append(o.B, "null"...)
		return
	}
	o.Time(k, *t)
}

// Ints appends the member k: the array vs.
func (o *Object) Ints(k string, vs []int) {
	o.Key(k)
	o.B = append(o.B, '[')
	for i, v := range vs {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = strconv.AppendInt(o.B, int64(v), 10)
	}
	o.B = append(o.B, ']')
}

// Close ends the object and returns the bytes.
func (o *Object) Close() []byte { return append(o.B, '}') }

// PageEnd closes a page's list of rows and appends its count, its time
// (when now is not nil) and its next cursor, and the newline json.Encoder
// ends with: `],"count":N[,"now":T],"next":"..."}` + "\n".
func PageEnd(b []byte, count int, now *time.Time, next string) []byte {
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	if now != nil {
		b = append(b, `,"now":`...)
		b = Time(b, *now)
	}
	b = append(b, `,"next":`...)
	b = String(b, next, true)
	return append(b, "}\n"...)
}
