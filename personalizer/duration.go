package personalizer

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses an ISO 8601 duration of the form
// P[nW][nD][T[nH][nM][n[.f]S]] ("PT10M", "P1D", "PT0.5S"), the format of
// the service configuration's rewardWaitTime and modelExportFrequency.
// Years and months have no fixed length and are refused, as are negative
// and empty durations ("P", "PT").
func ParseDuration(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration (PnDTnHnMnS): %s", s, why)
	}
	rest, ok := strings.CutPrefix(strings.ToUpper(s), "P")
	if !ok {
		return bad("it must start with P")
	}
	var total float64 // seconds
	timePart, seen := false, false
	units := "WD"
	for rest != "" {
		if rest[0] == 'T' {
			if timePart {
				return bad("T twice")
			}
			timePart, units, rest = true, "HMS", rest[1:]
			if rest == "" {
				return bad("nothing after T")
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return bad("a number must be followed by its unit")
		}
		n, err := strconv.ParseFloat(strings.ReplaceAll(rest[:i], ",", "."), 64)
		if err != nil {
			return bad("bad number " + rest[:i])
		}
		unit := rest[i]
		j := strings.IndexByte(units, unit)
		if j < 0 {
			if !timePart && (unit == 'Y' || unit == 'M') {
				return bad("years and months have no fixed length")
			}
			return bad("unit " + string(unit) + " out of place")
		}
		if unit != 'S' && strings.ContainsAny(rest[:i], ".,") {
			return bad("only seconds may have a fraction")
		}
		units = units[j+1:] // each unit once, in order
		switch unit {
		case 'W':
			total += n * 7 * 86400
		case 'D':
			total += n * 86400
		case 'H':
			total += n * 3600
		case 'M':
			total += n * 60
		case 'S':
			total += n
		}
		seen = true
		rest = rest[i+1:]
	}
	if !seen {
		return bad("no value")
	}
	if total > math.MaxInt64/float64(time.Second) {
		return bad("too long")
	}
	return time.Duration(math.Round(total * float64(time.Second))), nil
}

// FormatDuration writes d as ISO 8601, the way .NET's XmlConvert does
// (which Personalizer answered with): "PT10M", "P1D", "PT1H30M", "PT0S",
// "PT0.5S".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "D")
	}
	if d == 0 {
		return b.String()
	}
	b.WriteByte('T')
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	if h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "H")
	}
	if m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "M")
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}
