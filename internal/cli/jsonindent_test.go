package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// indentedAsEncodingJSON fails t unless PrintJSON writes what an encoder
// with SetIndent("", "  ") and no HTML escaping writes.
func indentedAsEncodingJSON(t *testing.T, v any) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	werr := enc.Encode(v)
	var got bytes.Buffer
	gerr := PrintJSON(&got, v)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("PrintJSON(%#v): error %v, encoding/json's %v", v, gerr, werr)
	}
	if werr == nil && got.String() != want.String() {
		t.Fatalf("PrintJSON(%#v):\n got %q\nwant %q", v, got.String(), want.String())
	}
}

func TestPrintJSONIndentsAsEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 3, 22, 0, 0, 5, time.UTC)
	type row struct {
		ID    int64             `json:"id"`
		Name  string            `json:"name"`
		Tags  []string          `json:"tags"`
		Env   map[string]string `json:"env,omitempty"`
		When  *time.Time        `json:"when"`
		Inner struct{}          `json:"inner"`
		F     float64           `json:"f"`
	}
	for _, v := range []any{
		nil, 1, "s", []int{}, map[string]int{}, struct{}{}, []any{[]any{}, map[string]any{}, nil},
		map[string]any{"a": []any{1, "x,y:{z}[]", map[string]any{"b": []int{}}}, "c": "\"quoted\\\" <&> \u2028 é {"},
		[]row{{ID: 1, Name: `a"b\c:{[,]}`, Tags: []string{"", "]"}, When: &now, F: 1e-9}, {Env: map[string]string{"K": "v"}}},
		struct {
			Jobs  []row `json:"jobs"`
			Count int   `json:"count"`
		}{Jobs: []row{}},
		map[string]any{"bad": func() {}},
	} {
		indentedAsEncodingJSON(t, v)
	}
}

func FuzzIndentJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":[]},"x\"y",{}],"c":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		indentedAsEncodingJSON(t, v)
	})
}
