// Package clv estimates customer lifetime value from purchase histories
// with the "buy 'til you die" models: BG/NBD (Fader, Hardie & Lee 2005,
// "Counting your customers the easy way") for how many purchases a
// customer will make and whether the customer is still active, and
// Gamma-Gamma (Colombo & Jiang 1999; Fader, Hardie & Lee 2005, "RFM and
// CLV"; Fader & Hardie 2013) for how much each purchase is worth. The
// models, formulas and the CDNOW reproduction are in docs/clv.md.
//
// # Where things live
//
//	transactions.go  the transaction file: CDNOW's whitespace layout or CSV (Parse)
//	summary.go       transactions → each customer's (x, t_x, T, mean repeat spend) (Summarize)
//	bgnbd.go         BG/NBD: likelihood, E[X(t)], E[Y(t) | history], P(alive)
//	gammagamma.go    Gamma-Gamma: likelihood, E[spend | history]
//	fit.go           maximum likelihood with gonum optimize; standard errors from the Hessian
//	predict.go       Predict (one customer's value over a horizon) and the tracking series
//	report.go        the HTML report and the per-customer CSV/JSON
//	base.go          a whole customer base under a model: totals, distributions, the top (the dashboard's CLV page)
//
// # Use
//
// Fit once, offline, on a calibration period:
//
//	txs, _ := clv.ReadTransactions(f)
//	s, _ := clv.Summarize(txs, clv.SummaryOptions{End: end})
//	bg, _ := clv.FitBGNBD(s.Histories())
//	gg, _ := clv.FitGammaGamma(s.Histories())
//	m := clv.Model{BGNBD: bg.Params, Spend: gg.Params}
//
// then score any customer from four numbers, as often as wanted:
//
//	p, _ := clv.Predict(m, clv.History{X: 3, TX: 20, T: 30, MeanSpend: 42}, clv.AnnualHorizon(52, 0, 0.10))
//
// Predict is pure and allocation-free: a service can keep a Model (seven
// numbers) and each customer's History in its profile and call it per
// decision.
//
// # Time and money
//
// Purchases are dated to the day; several on one day are one purchase.
// Times are in a unit of UnitDays days, weeks by default, and the BG/NBD
// α is in that unit: parameters fitted in weeks apply to histories in
// weeks. Amounts are in whatever currency the file uses; CLV is revenue
// (apply a margin outside).
//
// # What it is not
//
// It is not a forecast of revenue from new customers: the models describe
// the customers in the data, from their first purchase on. It does not
// model seasonality, marketing actions, or a link between how often and
// how much a customer buys (Gamma-Gamma assumes none; check the
// correlation). It is for non-contractual settings, where a customer's
// leaving is never observed; subscriptions need another model. It keeps
// no state, reads no journal and serves no requests: the command (nextbest
// clv) reads files or the journal, the service may call Predict and
// gather a Base from its profiles.
package clv
