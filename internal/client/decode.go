package client

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// decodeJSON decodes data into v (a pointer) as json.Unmarshal does, faster
// for the plain shapes rcqd answers with: structs with json tags, slices,
// maps with string keys, pointers, strings, numbers, booleans and time.Time.
// A page of 10,000 queue or accounting rows (4-5 MB) decodes in a fraction
// of encoding/json's time, which was most of rcq-queue's and rcq-acct's
// (docs/performance.md). Anything else (a type it does not know, malformed
// or ill-typed input, a string that needs encoding/json's care) goes to
// json.Unmarshal, from v's original value, so the result and the error are
// always encoding/json's. TestDecodeJSONMatchesEncodingJSON and
// FuzzDecodeJSON hold it to that.
func decodeJSON(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !fastType(rv.Type().Elem()) {
		return json.Unmarshal(data, v)
	}
	elem := rv.Elem()
	orig := reflect.New(elem.Type()).Elem()
	orig.Set(elem)
	d := fastDecoder{data: data}
	d.ws()
	if d.value(elem) && d.ws() && d.pos == len(d.data) {
		return nil
	}
	elem.Set(orig)
	return json.Unmarshal(data, v)
}

var timeType = reflect.TypeFor[time.Time]()

type fastField struct {
	name  string
	index int
}

type structInfo struct {
	fields []fastField
	byName map[string]int // name -> index into fields
}

var (
	fastTypes   sync.Map // reflect.Type -> bool
	structInfos sync.Map // reflect.Type -> *structInfo
)

// fastType reports whether the fast path handles t and every type in it.
// The verdicts are published only once judged whole, struct layouts before
// verdicts: a decoder that finds a verdict of true (perhaps in another
// goroutine) always finds the layouts it needs.
func fastType(t reflect.Type) bool {
	if ok, found := fastTypes.Load(t); found {
		return ok.(bool)
	}
	j := judging{verdicts: map[reflect.Type]bool{}, infos: map[reflect.Type]*structInfo{}}
	ok := j.fast(t)
	// A true verdict may lean on a type that was still being judged (a
	// recursive type counts as fast while judged by its other parts); those
	// hold only when the whole judgement is true. False verdicts always hold.
	if ok {
		for typ, info := range j.infos {
			structInfos.Store(typ, info)
		}
	}
	for typ, v := range j.verdicts {
		if ok || !v {
			fastTypes.Store(typ, v)
		}
	}
	return ok
}

// judging is one judgement of a type and the types in it.
type judging struct {
	verdicts map[reflect.Type]bool
	infos    map[reflect.Type]*structInfo
}

func (j *judging) fast(t reflect.Type) bool {
	if ok, found := fastTypes.Load(t); found {
		return ok.(bool)
	}
	if ok, found := j.verdicts[t]; found {
		return ok
	}
	j.verdicts[t] = true // a recursive type is judged by its other parts
	ok := j.judge(t)
	j.verdicts[t] = ok
	return ok
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (j *judging) judge(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	if t.Kind() == reflect.Pointer {
		return j.fast(t.Elem()) // T's methods include *T's: judged there
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8 && j.fast(t.Elem()) // []byte is base64
	case reflect.Map:
		return t.Key() == reflect.TypeFor[string]() && j.fast(t.Elem())
	case reflect.Struct:
		info := &structInfo{byName: map[string]int{}}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous || !f.IsExported() {
				if f.Anonymous {
					return false // embedded fields: encoding/json's promotion rules
				}
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(opts, "string") {
				return false
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := info.byName[name]; dup {
				return false
			}
			if !j.fast(f.Type) {
				return false
			}
			info.byName[name] = len(info.fields)
			info.fields = append(info.fields, fastField{name: name, index: i})
		}
		j.infos[t] = info
		return true
	}
	return false
}

type fastDecoder struct {
	data  []byte
	pos   int
	depth int // objects and arrays open
	// seen holds short strings already made: a page repeats its users,
	// states, reasons and workers thousands of times.
	seen map[string]string
	// stats count, per field of each struct type, the strings of that
	// field found in seen and those made anew; cur is the field being
	// decoded. A field whose strings are mostly new (a job's name, its
	// directory) stops being interned: filling seen with a page's names and
	// growing it was a fifth of rcq-acct's CPU (docs/performance.md).
	stats     map[*structInfo][]internStat
	lastInfo  *structInfo
	lastStats []internStat
	cur       *internStat
}

type internStat struct{ hits, misses int }

// unique reports whether the field's strings are mostly new ones.
func (s *internStat) unique() bool { return s.misses > 32 && s.misses > 4*s.hits }

// statsOf is the interning counts of si's fields in this decoding.
func (d *fastDecoder) statsOf(si *structInfo) []internStat {
	if si == d.lastInfo {
		return d.lastStats
	}
	st, ok := d.stats[si]
	if !ok {
		if d.stats == nil {
			d.stats = map[*structInfo][]internStat{}
		}
		st = make([]internStat, len(si.fields))
		d.stats[si] = st
	}
	d.lastInfo, d.lastStats = si, st
	return st
}

// intern returns b as a string, the same string for the same short bytes.
func (d *fastDecoder) intern(b []byte) string {
	st := d.cur
	if len(b) > 128 || st != nil && st.unique() {
		return string(b)
	}
	if s, ok := d.seen[string(b)]; ok {
		if st != nil {
			st.hits++
		}
		return s
	}
	s := string(b)
	if st != nil {
		st.misses++
	}
	if d.seen == nil {
		d.seen = map[string]string{}
	}
	if len(d.seen) < 4096 {
		d.seen[s] = s
	}
	return s
}

// ws skips white space; it always returns true (for chaining).
func (d *fastDecoder) ws() bool {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return true
		}
	}
	return true
}

// value decodes one JSON value into v; false means "let encoding/json do it".
func (d *fastDecoder) value(v reflect.Value) bool {
	if d.pos >= len(d.data) {
		return false
	}
	c := d.data[d.pos]
	if c == 'n' {
		if !d.literal("null") {
			return false
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			v.SetZero()
		}
		return true // null leaves other kinds as they are
	}
	t := v.Type()
	if t == timeType {
		if c != '"' {
			return false
		}
		start := d.pos
		if _, ok := d.rawString(); !ok {
			return false
		}
		return v.Addr().Interface().(*time.Time).UnmarshalJSON(d.data[start:d.pos]) == nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.value(v.Elem())
	case reflect.Struct:
		return c == '{' && d.object(v)
	case reflect.Slice:
		return c == '[' && d.array(v)
	case reflect.Map:
		return c == '{' && d.mapValue(v)
	case reflect.String:
		if c != '"' {
			return false
		}
		s, ok := d.str()
		if ok {
			v.SetString(s)
		}
		return ok
	case reflect.Bool:
		switch {
		case c == 't' && d.literal("true"):
			v.SetBool(true)
		case c == 'f' && d.literal("false"):
			v.SetBool(false)
		default:
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		tok, ok := d.number()
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
		return true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		tok, ok := d.number()
		if !ok {
			return false
		}
		n, err := strconv.ParseUint(tok, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return false
		}
		v.SetUint(n)
		return true
	case reflect.Float32, reflect.Float64:
		tok, ok := d.number()
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(tok, t.Bits())
		if err != nil || math.IsInf(f, 0) {
			return false
		}
		v.SetFloat(f)
		return true
	}
	return false
}

func (d *fastDecoder) literal(lit string) bool {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		return false
	}
	d.pos += len(lit)
	return true
}

// number scans a JSON number and returns its text.
func (d *fastDecoder) number() (string, bool) {
	start := d.pos
	i := d.pos
	if i < len(d.data) && d.data[i] == '-' {
		i++
	}
	if i >= len(d.data) {
		return "", false
	}
	switch {
	case d.data[i] == '0':
		i++
	case d.data[i] >= '1' && d.data[i] <= '9':
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
	default:
		return "", false
	}
	if i < len(d.data) && d.data[i] == '.' {
		i++
		j := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		if i == j {
			return "", false
		}
	}
	if i < len(d.data) && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < len(d.data) && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		j := i
		for i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9' {
			i++
		}
		if i == j {
			return "", false
		}
	}
	d.pos = i
	// Only parsed, never kept (strconv copies what its errors quote): no
	// copy for each of a page's numbers.
	return unsafe.String(&d.data[start], i-start), true
}

// rawString moves past a string and returns its contents without the
// quotes, or !ok when it holds an escape, a control character or invalid
// UTF-8 (then str decodes it).
//
// This decoder keeps its own string and number loops rather than
// internal/jsonscan's: routed through jsonscan.Scanner, BenchmarkDecodeQueue
// took 6-15% longer (run in turn with this version), and this is the loop
// every byte of a page of rows goes through.
func (d *fastDecoder) rawString() ([]byte, bool) {
	i := d.pos + 1
	ascii := true
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			s := d.data[d.pos+1 : i]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.pos = i + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		i++
	}
	return nil, false
}

// str decodes a string, escapes included.
func (d *fastDecoder) str() (string, bool) {
	if s, ok := d.rawString(); ok {
		return d.intern(s), true
	}
	var b []byte
	i := d.pos + 1
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			if !utf8.Valid(b) {
				return "", false // encoding/json turns bad bytes into U+FFFD
			}
			d.pos = i + 1
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(d.data) {
			return "", false
		}
		switch e := d.data[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(d.data, i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
					r2, ok = hex4(d.data, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return "", false
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

func (d *fastDecoder) object(v reflect.Value) bool {
	info, _ := structInfos.Load(v.Type())
	si := info.(*structInfo)
	stats := d.statsOf(si)
	d.depth++
	defer func() { d.depth-- }()
	d.pos++ // {
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return true
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return false
		}
		key, ok := d.rawString()
		if !ok {
			return false // an escaped key: rare, encoding/json's
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return false
		}
		d.pos++
		d.ws()
		i, found := si.byName[string(key)]
		if !found {
			// encoding/json matches keys case-insensitively too.
			for j, f := range si.fields {
				if strings.EqualFold(f.name, string(key)) {
					i, found = j, true
					break
				}
			}
		}
		if found {
			d.cur = &stats[i]
			ok := d.value(v.Field(si.fields[i].index))
			d.cur = nil
			if !ok {
				return false
			}
		} else if !d.skip() {
			return false
		}
		if more, ok := d.next('}'); !more {
			return ok
		}
	}
}

// next reads what follows an element of an object or array closed by end:
// a comma (more elements follow) or end (the last one; ok). Anything else
// is malformed (not ok).
func (d *fastDecoder) next(end byte) (more, ok bool) {
	d.ws()
	if d.pos >= len(d.data) {
		return false, false
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		d.ws()
		return true, true
	case end:
		d.pos++
		return false, true
	}
	return false, false
}

func (d *fastDecoder) array(v reflect.Value) bool {
	d.depth++
	defer func() { d.depth-- }()
	d.pos++ // [
	d.ws()
	n := 0
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		v.SetLen(0)
		return true
	}
	start := d.pos
	for {
		c := v.Cap()
		if n >= c {
			c = max(4, 2*c)
		}
		if n == 1 && d.depth <= 2 {
			// A page's list of rows (at the top, or in the top object):
			// as many more as the first row's size says the rest holds,
			// one copy instead of a dozen. Not deeper, where the rest of
			// the page says nothing about a row's own small lists.
			c = max(c, n+(len(d.data)-d.pos)/max(d.pos-start, 1)+1)
		}
		if c > v.Cap() {
			grown := reflect.MakeSlice(v.Type(), n+1, c)
			reflect.Copy(grown, v)
			v.Set(grown)
		}
		v.SetLen(n + 1)
		// Like encoding/json, into the element as it is (zero unless the
		// caller's slice had room beyond its length).
		if !d.value(v.Index(n)) {
			return false
		}
		n++
		if more, ok := d.next(']'); !more {
			return ok
		}
	}
}

func (d *fastDecoder) mapValue(v reflect.Value) bool {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.pos++ // {
	d.ws()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return true
	}
	et := v.Type().Elem()
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return false
		}
		key, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return false
		}
		d.pos++
		d.ws()
		e := reflect.New(et).Elem() // encoding/json decodes each element afresh
		if !d.value(e) {
			return false
		}
		v.SetMapIndex(reflect.ValueOf(key), e)
		if more, ok := d.next('}'); !more {
			return ok
		}
	}
}

// skip moves past one value of any kind (an unknown field).
func (d *fastDecoder) skip() bool {
	if d.pos >= len(d.data) {
		return false
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		d.pos++
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == end {
			d.pos++
			return true
		}
		for {
			if c == '{' {
				if d.pos >= len(d.data) || d.data[d.pos] != '"' {
					return false
				}
				if _, ok := d.str(); !ok {
					return false
				}
				d.ws()
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					return false
				}
				d.pos++
				d.ws()
			}
			if !d.skip() {
				return false
			}
			if more, ok := d.next(end); !more {
				return ok
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	default:
		_, ok := d.number()
		return ok
	}
}
