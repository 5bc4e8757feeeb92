package experiment

// The customer-clustered statistics of Sums, for analyses outside an
// experiment (the campaign report) that count per decision or per
// impression with customers as the clusters: the same rule Analyze
// applies to an arm, in one home.

// CustomerSums returns the Sums of one customer with n trials (decisions,
// impressions) whose values sum to y, without a covariate. Add them up
// over customers; Summary and ProportionInterval read the total.
func CustomerSums(n int64, y *Values) Sums { return clusterSums(0, n, y) }

// Summary returns metric m's mean per trial, its customer-clustered
// standard error (see Sums) and the number of customers.
func (s *Sums) Summary(m int) Summary { return s.summary(m) }

// ProportionInterval returns metric m, a 0/1 value per trial, as a
// proportion with the Wilson score interval at level on its
// design-effect-adjusted count (n_eff = p(1−p)/SE², capped at the
// trials; x_eff = p·n_eff): the interval Analyze gives an arm's
// conversion rate. With one trial per customer it is the Wilson interval
// on K − 1 trials, a hair wider than on K.
func (s *Sums) ProportionInterval(m int, level float64) Interval {
	x, n := s.effective(m)
	iv := WilsonInterval(x, n, level)
	iv.Method = "Wilson score on the customer-clustered effective count"
	return iv
}
