package thin

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// ReadError reads rcqd's error bodies as encoding/json would decode them
// into {error, code, request_id}, and shows anything else as text.
func TestReadError(t *testing.T) {
	for _, tt := range []struct {
		status    int
		body      string
		code, msg string
	}{
		{404, `{"error":"job 7 not found","code":"job_not_found"}`, "job_not_found", "job 7 not found"},
		{400, ` { "code" : "invalid_mem", "error" : "mem: \"lots\" is not a size \u00e9\n" } `, "invalid_mem", "mem: \"lots\" is not a size é\n"},
		{500, `{"error":"internal error","code":"internal","request_id":"r-1","n":1,"b":true,"z":null}`, "internal", "internal error (request id r-1)"},
		{400, `{"error":"no code"}`, "", "no code"},
		{502, `Bad Gateway from the proxy`, "", "bad gateway from the proxy"},
		{503, `<html>down</html>`, "", "service unavailable"},
		{500, `{"error":"x"} trailing`, "", `{"error":"x"} trailing`},
		{401, ``, "", "unauthorized"},
		{429, `{"error":{"nested":1}}`, "", `{"error":{"nested":1}}`},
		{429, `{"Error":"Slow Down","CODE":"rate"}`, "rate", "Slow Down"},
	} {
		e := ReadError(tt.status, []byte(tt.body))
		if e.Status != tt.status || e.Code != tt.code || e.Msg != tt.msg {
			t.Errorf("ReadError(%d, %q) = %+v, want code %q msg %q", tt.status, tt.body, e, tt.code, tt.msg)
		}
		var want struct {
			Error, Code string
		}
		if json.Unmarshal([]byte(tt.body), &want) == nil && want.Error != "" && tt.status < 500 && (want.Error != e.Msg || want.Code != e.Code) {
			t.Errorf("ReadError(%q) = %+v, encoding/json reads %+v", tt.body, e, want)
		}
	}
}

// FuzzReadError holds ReadError to what it replaced: encoding/json's
// decoding of the body into {error, code, request_id}, else the text.
func FuzzReadError(f *testing.F) {
	f.Add(400, `{"error":"a \"b\"","code":"c"}`)
	f.Add(500, `{"error":"\u00e9 \/","code":"x","request_id":"r"}`)
	f.Add(502, `Bad Gateway`)
	f.Add(400, `{"error":"x","code":5}`)
	f.Add(400, `{"error":"x","detail":{"a":[1,{"b":null}],"c":"d"}}`)
	f.Add(400, `{"error":"x","code":null,"error":"y"}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if !utf8.ValidString(body) || strings.Contains(strings.ToLower(body), `\ud`) {
			t.Skip("a string encoding/json repairs (invalid UTF-8, a surrogate escape): ReadError shows the body as text")
		}
		got := ReadError(status, []byte(body))
		want := BodyError{Status: status}
		var b struct {
			Error     string `json:"error"`
			Code      string `json:"code"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(body), &b); err != nil || b.Error == "" {
			want.Msg = strings.TrimSpace(body)
			if want.Msg == "" || len(want.Msg) > 200 || strings.ContainsAny(want.Msg, "\n<") {
				want.Msg = statusText(status)
			}
			want.Msg = strings.ToLower(want.Msg)
		} else {
			want.Code, want.Msg = b.Code, b.Error
			if status >= 500 && b.RequestID != "" {
				want.Msg += " (request id " + b.RequestID + ")"
			}
		}
		if *got != want {
			t.Fatalf("ReadError(%d, %q) = %+v, encoding/json's reading: %+v", status, body, got, want)
		}
	})
}
