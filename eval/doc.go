// Package eval estimates how well a policy would do from data logged by
// another one (off-policy evaluation), with confidence intervals, and
// checks the estimates against ground truth on real logs.
//
// # Rounds and estimators
//
// A Round is one logged decision, independent of its source: the logged
// action, its exact logging propensity, the reward, the target policy's
// probabilities over the round's eligible actions and, optionally, a
// reward model's estimates (Qhat), the logging policy's full
// distribution and context features for a reward model (Context).
// Evaluate and EvaluateAll estimate the target's value with
//
//	IPS          (1/n) Σ wᵢrᵢ,  wᵢ = π(aᵢ|xᵢ)/p(aᵢ|xᵢ)      Horvitz & Thompson 1952
//	SNIPS        Σ wᵢrᵢ / Σ wᵢ                              Swaminathan & Joachims 2015
//	Clipped-IPS  (1/n) Σ min(wᵢ, λ) rᵢ                      Ionides 2008
//	DM           (1/n) Σ q̂ᵢ(π),  q̂ᵢ(π) = Σ_a π(a|xᵢ) q̂(xᵢ,a)
//	DR           (1/n) Σ [q̂ᵢ(π) + wᵢ(rᵢ − q̂(xᵢ,aᵢ))]       Dudík, Langford & Li 2011
//	SNDR         (1/n) Σ q̂ᵢ(π) + Σ wᵢ(rᵢ − q̂ᵢ)/Σ wᵢ        Kallus & Uehara 2019; OBP
//	Switch-DR    (1/n) Σ [q̂ᵢ(π) + 1{wᵢ≤τ} wᵢ(rᵢ − q̂ᵢ)]     Wang, Agarwal & Dudík 2017
//	DRos         (1/n) Σ [q̂ᵢ(π) + ŵᵢ(rᵢ − q̂ᵢ)], ŵ = λw/(w²+λ)  Su et al. 2020
//
// Each Estimate carries the value, a confidence interval (Level, 95% by
// default), the standard error, the Kish effective sample size (Σw)²/Σw²,
// the largest weight, the tuning (τ, λ) and warnings.
//
// # Reward models
//
// The model-based estimators read Round.Qhat, or fit Options.Model
// themselves: a RewardModel (CellModel, a tabular model; LogisticModel,
// a penalised logistic regression on sparse context×action features
// given by a Featurizer) is cross-fitted over Options.Folds folds, so
// that no round is corrected by a model that saw it (CrossFit does the
// same and returns the rounds with Qhat).
//
// # Intervals
//
// By default intervals are analytic: value ± t(n−1) quantile × SE, where
// SE is the sample standard deviation of the per-round terms over √n (CLT;
// IPS, Clipped-IPS, DR, Switch-DR, DRos) or of the influence function
// (delta method; SNIPS: wᵢ(rᵢ − V)/w̄, SNDR: q̂ᵢ(π) + wᵢ(rᵢ − q̂ᵢ − C)/w̄).
// Options.Bootstrap = B gives percentile-bootstrap intervals from B
// resamples of the rounds with generator PCG(Seed, Seed) instead. With a
// fixed Qhat, DM's interval treats the reward model as exact and misses
// when the model is biased. With Options.Model, DM's interval comes from
// a bootstrap that refits the model on every resample (RefitInterval), so
// it includes the model's own estimation error; the doubly robust
// estimators keep their analytic intervals (cross-fitting makes the
// model's error second order), or refit too with Options.Bootstrap.
// Switch-DR's, DRos's and Clipped-IPS's intervals are conditional on τ
// or λ. The coverage study (coverage_test.go, docs/evaluation.md)
// measures all of them against known truth.
//
// # Choosing, comparing, several slots
//
// Select (SelectFrom on estimates already computed) chooses an
// estimator by SLOPE and says why. Compare sets a candidate (the rounds'
// Target) against the serving policy that logged the rounds: the
// serving policy's realised value, the candidate's estimate, and their
// paired difference, whose interval comes from per-round differences.
// EvaluateSlots and CompareSlots evaluate multi-slot decisions beyond the
// first slot with cumulative per-slot weights (the cascade assumption);
// JournalSlotRounds builds their rounds from the service's journal.
//
// # Slates with one reward
//
// EvaluateSlate (PI and SNPI) and CompareSlate estimate a ranking
// policy's slate-level reward when it is additive over the slots, with
// the pseudo-inverse estimator (Swaminathan et al. 2017): γᵢ = θ_πᵀ Γ⁺
// 1ₛᵢ, Γ the logging policy's pairwise slot probabilities. NewSlateDist
// computes Γ and the marginals exactly from a policy's per-slot
// conditionals (SlotConditionals; SlateConditionals adapts the engine's
// decide.Slate) by enumerating its rankings; JournalSlateRounds recovers
// the logging policy of journal decisions from their explanations,
// fallback rankings or the logging model, checked against every logged
// propensity.
//
// # Logs of one's own
//
// ReadLog reads a decision log (CSV, Parquet, DSJSON) with string action
// ids, context columns, reward and propensity (LogColumns, ColumnError
// naming a column it cannot use); LogRounds turns it into rounds for a
// LogPolicy: UniformPolicy, RulePolicy (an expr-lang rule naming the
// action) or ModelPolicy (a trained artifact scored through the feature
// spec). nextbest eval file --policy runs them.
//
// # Warnings
//
// Estimates warn when the largest importance weight exceeds
// Options.MaxWeight (100), when the ESS is under Options.MinESSFraction
// (10%) of n, when the mean weight is more than 4 standard errors from 1
// (its expectation under full support: wrong propensities or missing
// support), and when the target puts mass on actions the logger cannot
// take (Round.Logging) or never took in that position.
//
// # Data sets
//
// LoadOBD and EvaluateOBD estimate the Bernoulli Thompson sampling
// policy's CTR from the Open Bandit Dataset's uniform-random logs (with a
// logistic reward model on the user, item and affinity features) and
// compare it with BTS's own observed CTR; ReplayBTS computes BTS's
// position probabilities from its Beta prior by Monte Carlo. LoadHillstrom,
// HillstromRounds, EvaluateHillstrom and FitArmModel evaluate
// deterministic e-mail policies on the Hillstrom randomised trial. The
// rounds CSV (ReadRounds, WriteRounds) lets any other log be evaluated
// with "nextbest eval file".
//
// # The service's own logs, experiments and reports
//
// JournalRounds turns the service's journal (joined by logs.Join) into
// Rounds for a candidate policy, rebuilding each decision's vectors with
// logs.RowBuilder and asking the candidate for its first-slot
// probabilities through the same explorer code the engine logs with
// (decide.FallbackExplorer for decisions the engine served with its
// fallback ranking). AnalyzeExperiment
// sums the same joined decisions per arm, day, channel and stage
// (experiment.Builder) and analyses the sums with experiment.Analyze —
// the analysis the service serves from the sums it keeps as it applies
// the journal, so the two agree — adding off-policy estimates from each
// arm's logs; WriteReport writes the result as HTML, JSON and CSV.
//
// # What it is not
//
// eval does not learn policies (a reward model here exists only to feed
// DM/DR and the Hillstrom example). An interval does not see a reward
// model's shrinkage bias, nor repair missing support. The journey
// simulator lives in eval/sim. Estimators assume the logged propensities
// are the ones the logger used; they cannot repair wrong ones, only warn
// when the mean weight says so.
package eval
