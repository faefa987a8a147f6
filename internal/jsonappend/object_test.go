package jsonappend_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/jsonappend"
)

// TestObjectMatchesEncodingJSON: an object written member by member is
// encoding/json's encoding of the struct with those fields, in both escaping
// modes, nested objects and nulls included; PageEnd is the end of a page as
// json.Encoder writes it.
func TestObjectMatchesEncodingJSON(t *testing.T) {
	type inner struct {
		A float64 `json:"a"`
	}
	type row struct {
		ID    int64      `json:"id"`
		Name  string     `json:"name"`
		Own   bool       `json:"own"`
		F     float64    `json:"f"`
		At    time.Time  `json:"at"`
		Nil   *time.Time `json:"nil"`
		Ints  []int      `json:"ints"`
		Inner inner      `json:"inner"`
	}
	at := time.Date(2026, 12, 4, 10, 11, 12, 345, time.FixedZone("x", 3600))
	for _, html := range []bool{true, false} {
		r := row{ID: -7, Name: "a<b>&\"c\"\n\u2028\xff", Own: true, F: 1e-7, At: at, Ints: []int{3, 1}, Inner: inner{A: 2.5}}
		o := jsonappend.Open([]byte("x"), html)
		o.Int("id", r.ID)
		o.String("name", r.Name)
		o.Bool("own", r.Own)
		o.Float("f", r.F)
		o.Time("at", r.At)
		o.TimeOrNull("nil", r.Nil)
		o.Ints("ints", r.Ints)
		o.Key("inner")
		in := jsonappend.Open(o.B, html)
		in.Float("a", r.Inner.A)
		o.B = in.Close()
		got := o.Close()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if w := "x" + string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))); string(got) != w {
			t.Errorf("html=%v:\n got %s\nwant %s", html, got, w)
		}
	}
	type page struct {
		Jobs  []int     `json:"jobs"`
		Count int       `json:"count"`
		Now   time.Time `json:"now"`
		Next  string    `json:"next"`
	}
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(page{Jobs: []int{}, Count: 0, Now: at, Next: "a&b"}); err != nil {
		t.Fatal(err)
	}
	if got := jsonappend.PageEnd([]byte(`{"jobs":[`), 0, &at, "a&b"); string(got) != want.String() {
		t.Errorf("PageEnd = %s, want %s", got, want.String())
	}
	o := jsonappend.Open(nil, true)
	if got := o.Close(); string(got) != "{}" {
		t.Errorf("empty object = %s", got)
	}
}
