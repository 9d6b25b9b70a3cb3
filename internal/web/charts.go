package web

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
)

// A tiny renderer of stacked bar charts as inline SVG, drawn on the server:
// no script, no font, no request of its own, and nothing the page's
// Content-Security-Policy refuses (colours are presentation attributes,
// never style attributes). The chart is an image to assistive technology,
// named by its <title> and summarised by its <desc>; every bar carries a
// <title> with its period and counts, and its total is written above it.
// The legend under it (chart-legend in console-dashboard.html) names the
// series in words, with their totals and a link to the list behind each.

// chartBucket is one bar: a period.
type chartBucket struct {
	// Label is the axis label ("14:00", "3 Mar"); Title the whole period
	// ("3 Mar 14:00 to 15:00 UTC").
	Label string
	Title string
}

// chartSeries is one part of every bar: a decision, a status, a rule.
type chartSeries struct {
	Key   string
	Label string
	Color string // a fill colour, #rrggbb
	// Href is the list behind this series.
	Href   string
	Values []int // one per bucket
}

// Total is the series' count over every bucket.
func (s chartSeries) Total() int {
	n := 0
	for _, v := range s.Values {
		n += v
	}
	return n
}

// barChart is a stacked bar chart.
type barChart struct {
	ID      string // unique on the page; prefixes the ids inside the SVG
	Title   string
	Unit    string // what is counted, plural: "logins"
	Buckets []chartBucket
	Series  []chartSeries
	// Href is the list behind the whole chart.
	Href string
}

// The chart's geometry, in SVG user units: the plot area is inside the margins.
const (
	chartWidth        = 640
	chartHeight       = 220
	chartMarginLeft   = 40
	chartMarginRight  = 8
	chartMarginTop    = 18
	chartMarginBottom = 26
	chartPlotWidth    = chartWidth - chartMarginLeft - chartMarginRight
	chartPlotHeight   = chartHeight - chartMarginTop - chartMarginBottom
	// chartMaxLabels bounds the labels along the time axis.
	chartMaxLabels = 8
)

// Totals are the bars' heights in counts.
func (c barChart) Totals() []int {
	out := make([]int, len(c.Buckets))
	for _, s := range c.Series {
		for i, v := range s.Values {
			if i < len(out) {
				out[i] += v
			}
		}
	}
	return out
}

// Total is every count of the chart.
func (c barChart) Total() int {
	n := 0
	for _, t := range c.Totals() {
		n += t
	}
	return n
}

// Scale is the count the top of the plot stands for: the tallest bar
// rounded up to 1, 2 or 5 times a power of ten (at least 1), so the grid's
// labels are round numbers.
func (c barChart) Scale() int {
	top := 0
	for _, t := range c.Totals() {
		top = max(top, t)
	}
	return niceCeil(top)
}

func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// fmtUnits writes a coordinate with at most two decimals: 12, 12.5, 12.33.
func fmtUnits(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + strings.TrimSuffix(unit, "s")
	}
	return strconv.Itoa(n) + " " + unit
}

// Desc summarises the chart in words: the total and each series' share.
func (c barChart) Desc() string {
	var b strings.Builder
	first, last := "", ""
	if len(c.Buckets) > 0 {
		first, last = c.Buckets[0].Title, c.Buckets[len(c.Buckets)-1].Title
	}
	fmt.Fprintf(&b, "%s in %d bars, from %s to %s.", plural(c.Total(), c.Unit), len(c.Buckets), first, last)
	var parts []string
	for _, s := range c.Series {
		parts = append(parts, fmt.Sprintf("%s: %d", s.Label, s.Total()))
	}
	if len(parts) > 0 {
		b.WriteString(" " + strings.Join(parts, ", ") + ".")
	}
	return b.String()
}

// SVG draws the chart.
func (c barChart) SVG() template.HTML {
	esc := template.HTMLEscapeString
	var b strings.Builder
	n := len(c.Buckets)
	scale := c.Scale()
	unit := float64(chartPlotHeight) / float64(scale)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" data-scale="%d" data-total="%d">`,
		esc(c.ID), chartWidth, chartHeight, esc(c.ID), esc(c.ID), scale, c.Total())
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(c.Desc()))

	// The grid: the base line, half way and the top, each labelled.
	ticks := []int{0, scale}
	if scale%2 == 0 {
		ticks = []int{0, scale / 2, scale}
	}
	b.WriteString(`<g class="chart-grid" fill="currentColor" font-size="11" font-family="sans-serif">`)
	for _, t := range ticks {
		y := float64(chartMarginTop+chartPlotHeight) - float64(t)*unit
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="currentColor" stroke-opacity="%s"/>`,
			chartMarginLeft, chartWidth-chartMarginRight, fmtUnits(y), fmtUnits(y), map[bool]string{true: "0.5", false: "0.15"}[t == 0])
		fmt.Fprintf(&b, `<text class="chart-tick" x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%d</text>`,
			chartMarginLeft-6, fmtUnits(y), t)
	}
	b.WriteString(`</g>`)

	if n > 0 {
		slot := float64(chartPlotWidth) / float64(n)
		width := slot * 0.72
		every := (n + chartMaxLabels - 1) / chartMaxLabels
		totals := c.Totals()
		b.WriteString(`<g class="chart-bars" font-size="10" font-family="sans-serif">`)
		for i, bucket := range c.Buckets {
			x := float64(chartMarginLeft) + float64(i)*slot + (slot-width)/2
			var parts []string
			for _, s := range c.Series {
				if i < len(s.Values) && s.Values[i] > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", s.Label, s.Values[i]))
				}
			}
			title := bucket.Title + ": " + plural(totals[i], c.Unit)
			if len(parts) > 0 {
				title += " (" + strings.Join(parts, ", ") + ")"
			}
			fmt.Fprintf(&b, `<g class="chart-bar" data-bucket="%d" data-label="%s" data-total="%d"><title>%s</title>`, i, esc(bucket.Label), totals[i], esc(title))
			base := float64(chartMarginTop + chartPlotHeight)
			for _, s := range c.Series {
				v := 0
				if i < len(s.Values) {
					v = s.Values[i]
				}
				if v == 0 {
					continue
				}
				h := float64(v) * unit
				base -= h
				fmt.Fprintf(&b, `<rect class="chart-segment" data-series="%s" data-value="%d" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`,
					esc(s.Key), v, fmtUnits(x), fmtUnits(base), fmtUnits(width), fmtUnits(h), esc(s.Color))
			}
			if totals[i] > 0 {
				fmt.Fprintf(&b, `<text class="chart-total" x="%s" y="%s" text-anchor="middle" fill="currentColor">%d</text>`,
					fmtUnits(x+width/2), fmtUnits(base-3), totals[i])
			}
			b.WriteString(`</g>`)
		}
		b.WriteString(`</g>`)
		b.WriteString(`<g class="chart-axis" fill="currentColor" font-size="11" font-family="sans-serif">`)
		for i, bucket := range c.Buckets {
			if i%every != 0 {
				continue
			}
			x := float64(chartMarginLeft) + float64(i)*slot + slot/2
			fmt.Fprintf(&b, `<text class="chart-label" x="%s" y="%d" text-anchor="middle">%s</text>`,
				fmtUnits(x), chartHeight-8, esc(bucket.Label))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value written above is escaped or a number
}
