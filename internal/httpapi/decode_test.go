package httpapi

import (
	"encoding/json"
	"testing"
)

type fuzzTarget struct {
	Name  string            `json:"name"`
	Count int               `json:"count"`
	Tags  []string          `json:"tags"`
	Meta  map[string]string `json:"meta"`
	Inner struct {
		On bool `json:"on"`
	} `json:"inner"`
}

func TestDecodeJSONBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body  string
		code  string
		field string
	}{
		{`{"name":"a","count":1}`, "", ""},
		{`  {"tags":["x"]}  `, "", ""},
		{``, "invalid_json", ""},
		{`   `, "invalid_json", ""},
		{`{`, "invalid_json", ""},
		{`{"name":"a"}x`, "invalid_json", ""},
		{`{"name":"a"}{"name":"b"}`, "invalid_json", ""},
		{`null`, "", ""},
		{`"str"`, "invalid_json", ""},
		{`{"count":"1"}`, "validation_failed", "count"},
		{`{"count":1.5}`, "validation_failed", "count"},
		{`{"count":99999999999999999999}`, "validation_failed", "count"},
		{`{"inner":{"on":"yes"}}`, "validation_failed", "inner.on"},
		{`{"nope":1}`, "validation_failed", "nope"},
		{`{"name":"\ud800"}`, "", ""},
		{"{\"name\":\"\xff\xfe\"}", "invalid_json", ""},
	} {
		var v fuzzTarget
		p := decodeJSONBytes([]byte(tc.body), &v)
		switch {
		case tc.code == "" && p != nil:
			t.Errorf("%q: unexpected problem %v", tc.body, p)
		case tc.code != "" && (p == nil || p.Code != tc.code):
			t.Errorf("%q: problem %v, want %s", tc.body, p, tc.code)
		case tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field):
			t.Errorf("%q: errors %v, want field %s", tc.body, p.Errors, tc.field)
		}
	}
}

// FuzzDecodeJSON: any body yields either a decoded value or a well-formed
// problem with a 4xx status, never a panic.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"name":"a","count":1,"tags":["x"],"meta":{"k":"v"},"inner":{"on":true}}`,
		`{"count":"1"}`, `{"nope":1}`, `[]`, `{"name":"a"} trailing`, "\xff\xfe", `{"inner":{"on":"no"}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v fuzzTarget
		p := decodeJSONBytes(body, &v)
		if p == nil {
			return
		}
		if p.Status < 400 || p.Status > 499 || p.Code == "" || p.Detail == "" {
			t.Fatalf("bad problem %+v", p)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("problem does not encode: %v", err)
		}
		if p.Code == "validation_failed" && len(p.Errors) == 0 {
			t.Fatalf("validation problem without field errors")
		}
	})
}
