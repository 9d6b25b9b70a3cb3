package money

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		decimals int
		want     int64
		ok       bool
	}{
		{"0", 2, 0, true},
		{"12.5", 2, 1250, true},
		{"12.50", 2, 1250, true},
		{"0.015", 8, 1_500_000, true},
		{"1000", 0, 1000, true},
		{"9223372036854775807", 0, math.MaxInt64, true},
		{"9223372036854775808", 0, 0, false},
		{"92233720368547758.08", 2, 0, false},
		{"12.505", 2, 0, false},
		{"", 2, 0, false},
		{".5", 2, 0, false},
		{"5.", 2, 0, false},
		{"-1", 2, 0, false},
		{"+1", 2, 0, false},
		{"1e3", 2, 0, false},
		{"1,000", 2, 0, false},
		{" 1", 2, 0, false},
		{"01", 2, 0, false},
		{"0.1.2", 2, 0, false},
		{"１", 2, 0, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.decimals)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Parse(%q, %d) = %d, %v; want %d ok=%v", tt.in, tt.decimals, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrAmount) {
			t.Errorf("Parse(%q): %v is not ErrAmount", tt.in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v        int64
		decimals int
		want     string
	}{
		{0, 2, "0.00"}, {5, 2, "0.05"}, {1250, 2, "12.50"}, {1000, 0, "1000"}, {-1250, 2, "-12.50"}, {1, 8, "0.00000001"},
	}
	for _, tt := range tests {
		if got := Format(tt.v, tt.decimals); got != tt.want {
			t.Errorf("Format(%d, %d) = %q, want %q", tt.v, tt.decimals, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "12.50", "0.015", "1e3", "-1", "9223372036854775808", ".5"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, decimals int) {
		decimals = ((decimals % 19) + 19) % 19
		v, err := Parse(s, decimals)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("Parse(%q) = %d < 0", s, v)
		}
		// What parses formats back to the same value.
		back, err := Parse(Format(v, decimals), decimals)
		if err != nil || back != v {
			t.Fatalf("round trip of %q: %d → %q → %d, %v", s, v, Format(v, decimals), back, err)
		}
	})
}

func TestParseUnits(t *testing.T) {
	for _, tt := range []struct {
		in       string
		decimals int
		want     string
	}{
		{"17", 18, "17000000000000000000"},
		{"0.000000000000000001", 18, "1"},
		{"123456789012345678901234567890", 0, "123456789012345678901234567890"},
		{"12.5", 2, "1250"},
	} {
		got, err := ParseUnits(tt.in, tt.decimals)
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseUnits(%q, %d) = %v, %v; want %s", tt.in, tt.decimals, got, err, tt.want)
		}
	}
	for _, bad := range []string{"1e3", "-1", "", ".5", "5.", "01", "1.0000000000000000001", "1234567890123456789012345678901", "NaN"} {
		if _, err := ParseUnits(bad, 18); err == nil {
			t.Errorf("ParseUnits(%q) accepted", bad)
		}
	}
	if got := FormatUnits(big.NewInt(1), 18); got != "0.000000000000000001" {
		t.Errorf("FormatUnits(1, 18) = %q", got)
	}
}

func FuzzParseUnits(f *testing.F) {
	for _, s := range []string{"0", "17", "0.000000000000000001", "1e3", "-1", "12.50"} {
		f.Add(s, 18)
	}
	f.Fuzz(func(t *testing.T, s string, decimals int) {
		decimals = ((decimals % 31) + 31) % 31
		v, err := ParseUnits(s, decimals)
		if err != nil {
			return
		}
		back, err := ParseUnits(FormatUnits(v, decimals), decimals)
		if err != nil || back.Cmp(v) != 0 {
			t.Fatalf("round trip of %q: %v → %q → %v, %v", s, v, FormatUnits(v, decimals), back, err)
		}
	})
}

func TestPlain(t *testing.T) {
	for in, want := range map[string]string{"0.250000000000000000": "0.25", "12.00": "12", "1000": "1000", "0.0": "0", "10.50": "10.5"} {
		if got := Plain(in); got != want {
			t.Errorf("Plain(%q) = %q, want %q", in, got, want)
		}
	}
}
