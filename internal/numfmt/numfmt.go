// Package numfmt formats numbers for people: thousands separators, the
// one rule every report (experiments, CLV, attribution) shares.
package numfmt

import "strings"

// Group puts thousands separators (",") into a formatted decimal number,
// such as strconv.FormatFloat(x, 'f', 2, 64) or strconv.Itoa(n) gives:
// "-1234567.89" becomes "-1,234,567.89".
func Group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String() + frac
}
