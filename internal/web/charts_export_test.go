package web

import "sort"

// DrawChart draws a chart of series (by name, in name order) over buckets
// labelled labels, each titled "LABEL (whole)", counting logins.
func DrawChart(id, title string, labels []string, series map[string][]int) string {
	c := barChart{ID: id, Title: title, Unit: "logins"}
	for _, l := range labels {
		c.Buckets = append(c.Buckets, chartBucket{Label: l, Title: l + " (whole)"})
	}
	names := make([]string, 0, len(series))
	for name := range series {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		c.Series = append(c.Series, chartSeries{Key: name, Label: name, Color: rulePalette[i%len(rulePalette)], Values: series[name]})
	}
	return string(c.SVG())
}
