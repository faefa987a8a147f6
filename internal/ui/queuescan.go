package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/rcq-project/rcq/internal/apitype"
)

// rawQueueRow is one row of a GET /api/queue answer, not decoded yet: its raw
// JSON and the two keys the page filters and counts by. The page decodes
// only the rows it shows (100 of up to 10,000): decoding every row with
// encoding/json took most of the page's own time (BenchmarkQueuePage).
type rawQueueRow struct {
	raw     []byte
	status  string
	groupID int64
}

var errQueueShape = errors.New("not a queue answer as rcqd writes it")

// scanQueue splits a GET /api/queue body into its rows and the rest of the
// answer (now, next). It reads the compact JSON rcqd writes (one object
// per row); any other shape is errQueueShape, and the caller decodes the
// body whole.
func scanQueue(body []byte) ([]rawQueueRow, apitype.Queue, error) {
	var tail apitype.Queue
	const head = `{"jobs":[`
	if !bytes.HasPrefix(body, []byte(head)) {
		return nil, tail, errQueueShape
	}
	rows := make([]rawQueueRow, 0, bytes.Count(body, []byte(`},{"id":`))+1)
	i := len(head)
	for i < len(body) && body[i] != ']' {
		if body[i] == ',' {
			i++
		}
		end, err := objectEnd(body, i)
		if err != nil {
			return nil, tail, err
		}
		r := rawQueueRow{raw: body[i:end]}
		r.status, _ = stringKey(r.raw, `"status":"`)
		r.groupID, _ = intKey(r.raw, `"group_id":`)
		rows = append(rows, r)
		i = end
	}
	if i >= len(body) {
		return nil, tail, errQueueShape
	}
	// The rest: ],"count":N,"now":"...","next":"..."}
	rest := append([]byte(`{"jobs":null`), body[i+1:]...)
	if err := json.Unmarshal(rest, &tail); err != nil {
		return nil, tail, errQueueShape
	}
	return rows, tail, nil
}

// objectEnd returns the index just past the JSON object starting at b[i].
func objectEnd(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, errQueueShape
	}
	depth, in := 0, false
	for j := i; j < len(b); j++ {
		c := b[j]
		switch {
		case in && c == '\\':
			j++ // the escaped character
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, errQueueShape
}

// stringKey reads the string value after key (which ends in `:"`). A key
// written so cannot occur inside a string value: JSON escapes the quotes
// of strings, so the first match is the row's own key.
func stringKey(row []byte, key string) (string, bool) {
	k := bytes.Index(row, []byte(key))
	if k < 0 {
		return "", false
	}
	v := row[k+len(key):]
	end := bytes.IndexByte(v, '"')
	if end < 0 || bytes.IndexByte(v[:end], '\\') >= 0 {
		return "", false // states and names of this shape have no escapes
	}
	return string(v[:end]), true
}

// intKey reads the integer value after key (which ends in `:`).
func intKey(row []byte, key string) (int64, bool) {
	k := bytes.Index(row, []byte(key))
	if k < 0 {
		return 0, false
	}
	v := row[k+len(key):]
	end := 0
	for end < len(v) && (v[end] == '-' || v[end] >= '0' && v[end] <= '9') {
		end++
	}
	n, err := strconv.ParseInt(string(v[:end]), 10, 64)
	return n, err == nil
}
