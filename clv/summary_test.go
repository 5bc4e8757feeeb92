package clv_test

import (
	"errors"
	"math"
	"testing"

	"nextbest/clv"
)

func TestSummarize(t *testing.T) {
	d := mustDate
	txs := []clv.Transaction{
		{"b", d("2024-01-08"), 1, 10},
		{"a", d("2024-01-01"), 1, 5},
		{"a", d("2024-01-01"), 2, 7},  // same day as the first: not a repeat
		{"a", d("2024-01-15"), 1, 20}, // repeat, day 14
		{"a", d("2024-01-15"), 1, 4},  // same day: one purchase of 24
		{"a", d("2024-01-29"), 1, 12}, // repeat, day 28
		{"a", d("2024-02-05"), 1, 99}, // holdout
		{"a", d("2024-03-01"), 1, 99}, // after the holdout: ignored
		{"c", d("2024-02-01"), 1, 1},  // first purchase after End: late
	}
	s, err := clv.Summarize(txs, clv.SummaryOptions{End: d("2024-01-29"), HoldoutEnd: d("2024-02-11")})
	if err != nil {
		t.Fatal(err)
	}
	want := []clv.Customer{
		{ID: "a", First: d("2024-01-01"), History: clv.History{X: 2, TX: 4, T: 4, MeanSpend: 18}, HoldoutX: 1},
		{ID: "b", First: d("2024-01-08"), History: clv.History{X: 0, TX: 0, T: 3}},
	}
	if len(s.Customers) != len(want) {
		t.Fatalf("got %+v", s.Customers)
	}
	for i := range want {
		if s.Customers[i] != want[i] {
			t.Errorf("got %+v, want %+v", s.Customers[i], want[i])
		}
	}
	if s.Late != 1 || s.Ignored != 1 || s.Start != d("2024-01-01") || s.HoldoutLength() != 13.0/7 {
		t.Errorf("late %d ignored %d start %s holdout %v", s.Late, s.Ignored, s.Start, s.HoldoutLength())
	}
	// weeks from 2024-01-01: repeats on days 14, 28 and 35; c's purchase is
	// its first (and c is not in the cohort)
	if got := s.Repeats; len(got) != 6 || got[2] != 1 || got[4] != 1 || got[5] != 1 || got[0]+got[1]+got[3] != 0 {
		t.Errorf("repeats per week %v, want [0 0 1 0 1 1]", got)
	}
	if rb := s.RepeatBuyers(); len(rb) != 1 || rb[0].MeanSpend != 18 {
		t.Errorf("repeat buyers %+v", rb)
	}

	// default End: the last day
	s, err = clv.Summarize(txs[:2], clv.SummaryOptions{})
	if err != nil || s.End != d("2024-01-08") || s.Customers[0].T != 1 {
		t.Errorf("default end: %+v, %v", s, err)
	}
	for _, c := range []struct {
		name string
		txs  []clv.Transaction
		opt  clv.SummaryOptions
		want error
	}{
		{"no transactions", nil, clv.SummaryOptions{}, clv.ErrNoCustomers},
		{"everyone late", txs[8:], clv.SummaryOptions{End: d("2024-01-01")}, clv.ErrNoCustomers},
		{"holdout before end", txs, clv.SummaryOptions{End: d("2024-01-29"), HoldoutEnd: d("2024-01-02")}, clv.ErrInvalidOptions},
		{"bad unit", txs, clv.SummaryOptions{UnitDays: math.NaN()}, clv.ErrInvalidOptions},
	} {
		if _, err := clv.Summarize(c.txs, c.opt); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}
