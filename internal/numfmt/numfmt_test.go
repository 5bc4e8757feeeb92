package numfmt

import "testing"

func TestGroup(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "999": "999", "1000": "1,000", "-1234567.89": "-1,234,567.89",
		"123456": "123,456", "12.5": "12.5", "-100": "-100", "1000000": "1,000,000",
	} {
		if got := Group(in); got != want {
			t.Errorf("Group(%q) = %q, want %q", in, got, want)
		}
	}
}
