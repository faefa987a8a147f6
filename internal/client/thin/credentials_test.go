package thin

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestDecodeCredentialsMatchesEncodingJSON(t *testing.T) {
	written, err := json.MarshalIndent(&Credentials{Server: "unix:///run/rcq/rcqd.sock", Token: "eyJ.abc.def",
		Email: "alice@example.org"}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		string(written) + "\n",
		`{"server":"http://h:1","token":"t","email":"e","expires_at":"2026-12-05T13:06:11.123456789Z"}`,
		`{"token":"t","expires_at":"2026-12-05T13:06:11+01:00"}`,
		`{}`, ` { } `, `{"token":"a","token":"b"}`,
		// Left to encoding/json: escapes, non-ASCII, other spellings and keys,
		// other types, malformed input.
		`{"token":"a\u0041","email":"\"q\""}`, `{"email":"é","token":"t"}`, `{"Token":"t"}`, `{"token":"t","extra":"x"}`,
		`{"token":"t","expires_at":"tomorrow"}`, `{"token":"t","expires_at":null}`, `{"token":1}`,
		`{"token":"t",}`, `{"token":"t"} x`, `{"token" "t"}`, `{"token":"t"`, ``, `[]`, `{"token":"t` + "\x01" + `"}`,
	} {
		var fast, slow Credentials
		fastErr := decodeCredentials([]byte(in), &fast, json.Unmarshal)
		slowErr := json.Unmarshal([]byte(in), &slow)
		if (fastErr == nil) != (slowErr == nil) || !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q: decodeCredentials %+v, %v; encoding/json %+v, %v", in, fast, fastErr, slow, slowErr)
		}
	}
}

func FuzzDecodeCredentials(f *testing.F) {
	f.Add([]byte(`{"server":"unix:///s","token":"t","email":"e","expires_at":"2026-12-05T13:06:11Z"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var fast, slow Credentials
		fastErr := decodeCredentials(in, &fast, json.Unmarshal)
		slowErr := json.Unmarshal(in, &slow)
		if (fastErr == nil) != (slowErr == nil) || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: decodeCredentials %+v, %v; encoding/json %+v, %v", in, fast, fastErr, slow, slowErr)
		}
	})
}
