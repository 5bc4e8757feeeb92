package clv

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// History is what the models know of one customer at the end of the
// calibration period (the RFM summary of Fader, Hardie & Lee):
//
//	X          repeat purchases: distinct purchase days after the first, up to the end
//	TX         recency: time from the first purchase to the last one (0 when X = 0)
//	T          age: time from the first purchase to the end of the calibration period
//	MeanSpend  the mean amount of the repeat purchases, each day's amounts summed (0 when X = 0)
//
// Times are in the model's unit (weeks in Summarize's default).
type History struct {
	X         int     `json:"x"`
	TX        float64 `json:"t_x"`
	T         float64 `json:"T"`
	MeanSpend float64 `json:"mean_spend"`
}

// Customer is a customer's calibration History with its id, the day of
// its first purchase and, when Summarize was given a holdout period, its
// repeat purchases there.
type Customer struct {
	ID    string `json:"customer_id"`
	First Date   `json:"first"`
	History
	// HoldoutX counts the distinct purchase days in the holdout period
	// (after End, up to HoldoutEnd); 0 without a holdout.
	HoldoutX int `json:"holdout_x"`
}

// SummaryOptions says where the calibration period ends and, if wanted,
// the holdout period.
type SummaryOptions struct {
	// End is the last day of the calibration period (inclusive). Zero
	// means the last transaction's day.
	End Date
	// HoldoutEnd is the last day of the holdout period (inclusive): the
	// days after End up to it. Zero means no holdout.
	HoldoutEnd Date
	// UnitDays is the model's time unit in days: 7 (weeks) when 0.
	UnitDays float64
}

// Summary is a transaction file condensed for the models: one Customer
// per customer whose first purchase is on or before End, sorted by id,
// and the cohort's repeat purchases by period for the tracking chart.
type Summary struct {
	Customers  []Customer `json:"customers"`
	Start      Date       `json:"start"` // the earliest first purchase
	End        Date       `json:"end"`
	HoldoutEnd Date       `json:"holdout_end,omitempty"`
	UnitDays   float64    `json:"unit_days"`
	// Late counts customers whose first purchase is after End: they are
	// not in the calibration cohort and not in Customers.
	Late int `json:"late_customers"`
	// Transactions counts the transactions read and Ignored those after
	// the last day summarised (HoldoutEnd, or End without a holdout).
	Transactions int `json:"transactions"`
	Ignored      int `json:"ignored"`
	// Repeats[k] counts the cohort's repeat purchases (distinct customer
	// days after each customer's first) in period k, the days
	// [Start + k·UnitDays, Start + (k+1)·UnitDays) — the "actual" series
	// of FHL 2005's tracking plot — up to HoldoutEnd (or End).
	Repeats []int `json:"repeats_per_period"`
}

// Periods returns the number of whole or partial periods (weeks) from
// Start to the last day d: the periods that Repeats covers up to d.
func (s *Summary) Periods(d Date) int {
	if d < s.Start {
		return 0
	}
	return int(math.Floor(float64(d-s.Start)/s.UnitDays)) + 1
}

// Age returns the time from day a to day b in the model's unit.
func (s *Summary) Age(a, b Date) float64 { return float64(b-a) / s.UnitDays }

// HoldoutLength returns the length of the holdout period in the model's
// unit; 0 without one.
func (s *Summary) HoldoutLength() float64 {
	if s.HoldoutEnd == 0 {
		return 0
	}
	return s.Age(s.End, s.HoldoutEnd)
}

// RepeatBuyers returns the customers with X > 0 and a positive mean
// spend: those the Gamma-Gamma model is fitted on.
func (s *Summary) RepeatBuyers() []History {
	var out []History
	for _, c := range s.Customers {
		if c.X > 0 && c.MeanSpend > 0 {
			out = append(out, c.History)
		}
	}
	return out
}

// Histories returns every customer's History, in the order of Customers.
func (s *Summary) Histories() []History {
	out := make([]History, len(s.Customers))
	for i, c := range s.Customers {
		out[i] = c.History
	}
	return out
}

// Summarize condenses transactions into each customer's History at the
// end of the calibration period, the rule of FHL 2005 and of the CDNOW
// summaries (see docs/clv.md): transactions of one customer on one day are
// one purchase, their amounts summed; the first purchase day starts the
// customer's clock and is not a repeat; X counts the later purchase days
// up to End, TX and T are measured from the first day to the last
// purchase day and to End. Customers whose first purchase is after End
// are counted in Late and left out. With a holdout, HoldoutX counts the
// purchase days after End up to HoldoutEnd.
func Summarize(txs []Transaction, opt SummaryOptions) (*Summary, error) {
	if len(txs) == 0 {
		return nil, fmt.Errorf("%w: no transactions", ErrNoCustomers)
	}
	unit := opt.UnitDays
	if unit == 0 {
		unit = 7
	}
	if !(unit > 0) || math.IsInf(unit, 0) {
		return nil, fmt.Errorf("%w: time unit %v days", ErrInvalidOptions, opt.UnitDays)
	}
	end := opt.End
	if end == 0 {
		for _, t := range txs {
			end = max(end, t.Date)
		}
	}
	last := end
	if opt.HoldoutEnd != 0 {
		if opt.HoldoutEnd <= end {
			return nil, fmt.Errorf("%w: holdout end %s is not after the calibration end %s", ErrInvalidOptions, opt.HoldoutEnd, end)
		}
		last = opt.HoldoutEnd
	}
	// one entry per customer day, amounts summed
	type day struct {
		id     string
		date   Date
		amount float64
	}
	days := make([]day, 0, len(txs))
	ignored := 0
	for _, t := range txs {
		if t.Date > last {
			ignored++
			continue
		}
		days = append(days, day{t.Customer, t.Date, t.Amount})
	}
	slices.SortFunc(days, func(a, b day) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return int(a.date) - int(b.date)
	})
	s := &Summary{End: end, UnitDays: unit, Transactions: len(txs), Ignored: ignored}
	if opt.HoldoutEnd != 0 {
		s.HoldoutEnd = opt.HoldoutEnd
	}
	var repeats []Date
	for i := 0; i < len(days); {
		j := i
		for j < len(days) && days[j].id == days[i].id {
			j++
		}
		cust := days[i:j]
		first := cust[0].date
		if first > end {
			s.Late++
			i = j
			continue
		}
		c := Customer{ID: cust[0].id, First: first}
		var sum float64
		lastCal := first
		for k := 0; k < len(cust); {
			d := cust[k].date
			amount := 0.0
			for k < len(cust) && cust[k].date == d {
				amount += cust[k].amount
				k++
			}
			if d == first {
				continue
			}
			repeats = append(repeats, d)
			if d <= end {
				c.X++
				sum += amount
				lastCal = d
			} else {
				c.HoldoutX++
			}
		}
		c.TX = float64(lastCal-first) / unit
		c.T = float64(end-first) / unit
		if c.X > 0 {
			c.MeanSpend = sum / float64(c.X)
		}
		s.Customers = append(s.Customers, c)
		i = j
	}
	if len(s.Customers) == 0 {
		return nil, fmt.Errorf("%w: no first purchase on or before %s", ErrNoCustomers, end)
	}
	s.Start = s.Customers[0].First
	for _, c := range s.Customers {
		s.Start = min(s.Start, c.First)
	}
	s.Repeats = make([]int, s.Periods(last))
	for _, d := range repeats {
		s.Repeats[s.Periods(d)-1]++
	}
	return s, nil
}
