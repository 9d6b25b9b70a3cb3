package web_test

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/web"
)

// svgNode is any element of an SVG document, as encoding/xml reads it.
type svgNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []svgNode  `xml:",any"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) num(t *testing.T, name string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return f
}

// all lists the elements under n (n included) with the local name and,
// when class is not "", the class.
func (n svgNode) all(name, class string) []svgNode {
	var out []svgNode
	if n.XMLName.Local == name && (class == "" || n.attr("class") == class) {
		out = append(out, n)
	}
	for _, c := range n.Children {
		out = append(out, c.all(name, class)...)
	}
	return out
}

// child is n's first child element called name.
func (n svgNode) child(name string) svgNode {
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c
		}
	}
	return svgNode{}
}

func parseSVG(t *testing.T, raw string) svgNode {
	t.Helper()
	var root svgNode
	if err := xml.Unmarshal([]byte(raw), &root); err != nil {
		t.Fatalf("the chart is not well-formed XML: %v\n%s", err, raw)
	}
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" {
		t.Fatalf("root element %v", root.XMLName)
	}
	return root
}

// chartSVG finds the inline SVG with id in a page.
func chartSVG(t *testing.T, page, id string) svgNode {
	t.Helper()
	m := regexp.MustCompile(`(?s)<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="` + regexp.QuoteMeta(id) + `".*?</svg>`).FindString(page)
	if m == "" {
		t.Fatalf("no chart %s on the page", id)
	}
	return parseSVG(t, m)
}

// plotHeight is the chart's plot area in SVG units (charts.go).
const plotHeight = 176.0

// barsOf reads a chart's bars: label → series → value, checking on the way
// that every segment's height is its value on the chart's scale, that the
// segments stack from the base line, and that the total written above
// each bar is the sum of its segments.
func barsOf(t *testing.T, svg svgNode) map[string]map[string]int {
	t.Helper()
	scale := svg.num(t, "data-scale")
	out := map[string]map[string]int{}
	for _, bar := range svg.all("g", "chart-bar") {
		label := bar.attr("data-label")
		values := map[string]int{}
		total := 0
		base := 18 + plotHeight // the plot's base line (margin top + plot height)
		for _, seg := range bar.all("rect", "chart-segment") {
			v := int(seg.num(t, "data-value"))
			h := seg.num(t, "height")
			if want := float64(v) * plotHeight / scale; h < want-0.01 || h > want+0.01 {
				t.Errorf("bar %s, %s: height %v for %d on a scale of %v, want %v", label, seg.attr("data-series"), h, v, scale, want)
			}
			if y := seg.num(t, "y"); y+h < base-0.02 || y+h > base+0.02 {
				t.Errorf("bar %s, %s: ends at %v, want %v (stacked)", label, seg.attr("data-series"), y+h, base)
			}
			base -= h
			values[seg.attr("data-series")] += v
			total += v
		}
		if got := bar.attr("data-total"); got != strconv.Itoa(total) {
			t.Errorf("bar %s: data-total %s, segments sum to %d", label, got, total)
		}
		texts := bar.all("text", "chart-total")
		switch {
		case total == 0 && len(texts) != 0:
			t.Errorf("bar %s: a total written over an empty bar", label)
		case total > 0 && (len(texts) != 1 || strings.TrimSpace(texts[0].Text) != strconv.Itoa(total)):
			t.Errorf("bar %s: total label %v, want %d", label, texts, total)
		}
		if title := bar.child("title").Text; !strings.Contains(title, ": "+strconv.Itoa(total)+" ") {
			t.Errorf("bar %s: title %q does not say %d", label, title, total)
		}
		out[label] = values
	}
	return out
}

func TestChartSVG(t *testing.T) {
	t.Parallel()
	raw := web.DrawChart("chart-test", "Logins & <lockouts>", []string{"Mon", "Tue", "Wed", "Thu"},
		map[string][]int{"allowed": {3, 0, 12, 1}, "denied": {1, 0, 5, 0}, "<rule>": {0, 0, 0, 2}})
	svg := parseSVG(t, raw)
	if svg.attr("role") != "img" || svg.attr("aria-labelledby") != "chart-test-title chart-test-desc" || svg.attr("viewBox") != "0 0 640 220" {
		t.Errorf("svg attributes: %v", svg.Attrs)
	}
	if got := svg.child("title").Text; got != "Logins & <lockouts>" {
		t.Errorf("title %q", got)
	}
	desc := svg.child("desc").Text
	for _, want := range []string{"24 logins in 4 bars", "from Mon (whole) to Thu (whole)", "allowed: 16", "denied: 6", "<rule>: 2"} {
		if !strings.Contains(desc, want) {
			t.Errorf("desc %q lacks %q", desc, want)
		}
	}
	// The tallest bar is 17: the scale is 20, and the grid says 0, 10, 20.
	if svg.attr("data-scale") != "20" || svg.attr("data-total") != "24" {
		t.Errorf("scale %s, total %s", svg.attr("data-scale"), svg.attr("data-total"))
	}
	var ticks []string
	for _, tk := range svg.all("text", "chart-tick") {
		ticks = append(ticks, tk.Text)
	}
	if strings.Join(ticks, ",") != "0,10,20" {
		t.Errorf("ticks %v", ticks)
	}
	bars := barsOf(t, svg)
	want := map[string]map[string]int{
		"Mon": {"allowed": 3, "denied": 1}, "Tue": {}, "Wed": {"allowed": 12, "denied": 5}, "Thu": {"allowed": 1, "<rule>": 2},
	}
	if fmt.Sprint(bars) != fmt.Sprint(want) {
		t.Errorf("bars %v, want %v", bars, want)
	}
	var labels []string
	for _, l := range svg.all("text", "chart-label") {
		labels = append(labels, l.Text)
	}
	if strings.Join(labels, ",") != "Mon,Tue,Wed,Thu" {
		t.Errorf("axis labels %v", labels)
	}
	if strings.Contains(raw, "<rule>") || strings.Contains(raw, "style=") || strings.Contains(raw, "<script") {
		t.Errorf("unescaped text, a style attribute or a script in the SVG:\n%s", raw)
	}

	// Thirty bars carry at most eight labels; an empty chart has a scale of 1.
	days := make([]string, 30)
	for i := range days {
		days[i] = strconv.Itoa(i + 1)
	}
	svg = parseSVG(t, web.DrawChart("c30", "Empty", days, map[string][]int{"x": make([]int, 30)}))
	if n := len(svg.all("text", "chart-label")); n > 8 || n < 5 {
		t.Errorf("%d axis labels for 30 bars", n)
	}
	if svg.attr("data-scale") != "1" || len(svg.all("rect", "chart-segment")) != 0 || len(svg.all("g", "chart-bar")) != 30 {
		t.Errorf("empty chart: scale %s, %d segments", svg.attr("data-scale"), len(svg.all("rect", "chart-segment")))
	}
}
