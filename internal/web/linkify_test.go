package web

import (
	"slices"
	"testing"
	"time"
)

func TestLinkify(t *testing.T) {
	link := func(u string) textSpan { return textSpan{Text: u, URL: u} }
	text := func(s string) textSpan { return textSpan{Text: s} }
	tests := []struct {
		in   string
		want []textSpan
	}{
		{"", nil},
		{"no links here", []textSpan{text("no links here")}},
		{"https://a.test/x", []textSpan{link("https://a.test/x")}},
		{"Go to http://a.test/x?y=1&z=2.", []textSpan{text("Go to "), link("http://a.test/x?y=1&z=2"), text(".")}},
		{"(see https://a.test/wiki/Foo_(bar)), ok", []textSpan{text("(see "), link("https://a.test/wiki/Foo_(bar)"), text("), ok")}},
		{"<https://a.test/t>", []textSpan{text("<"), link("https://a.test/t"), text(">")}},
		{"HTTPS://A.TEST/UP", []textSpan{link("HTTPS://A.TEST/UP")}},
		{"a\nhttps://a.test/1\nhttps://a.test/2\n", []textSpan{text("a\n"), link("https://a.test/1"), text("\n"), link("https://a.test/2"), text("\n")}},
		{`"https://a.test/q"`, []textSpan{text(`"`), link("https://a.test/q"), text(`"`)}},
		{"javascript:alert(1)", []textSpan{text("javascript:alert(1)")}},
		{"javascript://https://a.test/%0aalert(1)", []textSpan{text("javascript://"), link("https://a.test/%0aalert(1)")}},
		{"ftp://a.test/f mailto:x@a.test data:text/html,<b>", []textSpan{text("ftp://a.test/f mailto:x@a.test data:text/html,<b>")}},
		{"http:// nothing", []textSpan{text("http:// nothing")}},
		{"https://.", []textSpan{text("https://.")}},
		{"xhttps://a.test", []textSpan{text("xhttps://a.test")}},
	}
	for _, tc := range tests {
		if got := linkify(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("linkify(%q) =\n  %q\nwant\n  %q", tc.in, got, tc.want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{-10 * time.Second, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{5*time.Minute + 30*time.Second, "5 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{25 * time.Hour, "1 day ago"},
		{8 * 24 * time.Hour, "2026-11-16 12:00 UTC"},
		{-2 * time.Hour, "2026-11-24 14:00 UTC"},
	}
	for _, tc := range tests {
		if got := ago(now, now.Add(-tc.d)); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
