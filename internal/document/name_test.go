package document

import "testing"

func TestNameHasPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		disposition string
		want        bool
	}{
		{`form-data; name="file"; filename="passport.jpg"`, false},
		{`form-data; name="file"; filename="my passport (1).jpg"`, false},
		{`form-data; name="file"`, false},
		{`form-data; name="file"; filename=""`, false},
		{`form-data; name="file"; filename="../../etc/passwd"`, true},
		{`form-data; name="file"; filename="/tmp/x.jpg"`, true},
		{`form-data; name="file"; filename="C:\\Users\\ada\\x.jpg"`, true},
		{`form-data; name="file"; filename="C:x.jpg"`, true},
		{`form-data; name="file"; filename=".."`, true},
		{`form-data; name="file"; filename*=UTF-8''..%2Fx.jpg`, true},
		{`not a header`, false},
	} {
		if got := NameHasPath(tc.disposition); got != tc.want {
			t.Errorf("NameHasPath(%q) = %v, want %v", tc.disposition, got, tc.want)
		}
	}
}
