// Package models holds nextbest's scoring models. Its first model is Ridge,
// the Bayesian linear (ridge) regression reward model that the LinUCB and
// linear Thompson sampling policies score with, and ArgmaxProbs, the exact
// slot propensity of Thompson sampling over independent Gaussian scores.
//
// # The model
//
// Rewards are modelled as r = θᵀx + ε with a prior θ ~ N(0, I/λ). After
// observations (xₜ, rₜ) the posterior has mean θ̂ = A⁻¹b and covariance
// σ²A⁻¹, with A = λI + Σ xₜxₜᵀ and b = Σ rₜxₜ — exactly the ridge
// regression solution. Ridge.Predict returns θ̂ᵀx and the unscaled std
// √(xᵀA⁻¹x); the policy (package decide) multiplies the std by α (LinUCB:
// mean + α·std) or by v (Thompson: draw N(mean, v²·std²)).
//
// A shared model (RidgeConfig.Actions == 0) has one posterior and expects
// the feature vector to carry the action's features and the context×action
// crosses. A disjoint model keeps one posterior per action index.
//
// # Numerics
//
// Each posterior keeps A (upper triangle), b and A⁻¹. Update applies the
// Sherman–Morrison identity A⁻¹ ← A⁻¹ − uuᵀ/(1+xᵀu), u = A⁻¹x, in O(d²),
// written as A⁻¹ − ccᵀ with c = u/√(1+xᵀu) so that A⁻¹ stays exactly
// symmetric (cᵢcⱼ = cⱼcᵢ in floating point). Rounding accumulates in A⁻¹,
// so every RefreshEvery updates (default 1024) A⁻¹ is recomputed from A by
// a gonum Cholesky factorisation (O(d³), amortised to a few per cent of an
// update at d = 64). A itself is a plain running sum and does not drift.
// Tests measure, after 1e5 updates at d = 16 with correlated and unevenly
// scaled features, a relative deviation from a fresh gonum batch solve of
// about 6e-12 with refreshes disabled and 1e-12 with them.
//
// Why not a Cholesky factor with rank-one updates (mat.Cholesky.SymRankOne)?
// It is as stable, but Predict then needs L⁻¹ or a triangular solve per
// candidate, and producing L⁻¹ at each Publish costs O(d³); keeping A⁻¹
// makes both Update and Publish O(d²) and Predict pure dot products.
//
// Publish builds, for each posterior that changed, an immutable view —
// θ̂ = A⁻¹b and W, the upper triangle of A⁻¹ with doubled off-diagonal —
// and swaps it in with an atomic pointer (copy-on-write; unchanged
// posteriors are shared). Predict computes θ̂ᵀx and xᵀWx = xᵀA⁻¹x, which
// costs d(d+1)/2 multiply-adds per candidate, with the AVX2/FMA kernels of
// internal/vec (portable Go elsewhere). Predict never allocates and takes
// no lock.
//
// Persistence (WriteTo, ReadRidge) stores A, A⁻¹, b and the counts with a
// magic, a format version, the payload length and a CRC-32C, so a round
// trip reproduces predictions bit for bit and a corrupt, truncated or
// foreign file is refused with ErrCorrupt, ErrTruncated or ErrBadMagic.
//
// # ArgmaxProbs
//
// p_i = ∫ φ_i(t) Π_{j≠i} Φ_j(t) dt is integrated for all i at once on a
// shared grid: 8-point Gauss–Legendre panels no wider than twice the
// smallest std still in play, over a range outside which the mass is
// < 1e-9; point masses (std 0) are handled in closed form with ties to
// the lowest index. At each node the CDFs and reverse hazards φ_j/Φ_j of
// the candidates in play come four at a time from internal/vec's AVX2
// kernel, and p_i gets the node's weight × h_i × Π_j Φ_j. The contract is
// an absolute error of 1e-6 per probability (ArgmaxTolerance); tests
// measure at most 1.4e-8 against an independent rule at 8× the node
// density, and check closed forms and 1e6-draw Monte Carlo. About 5 µs for
// 20 candidates.
//
// Argmax serves a slate: Reset stores the grid once (with each node's
// product of CDFs), and Probs for the candidates left after each slot
// divides out the CDFs of those gone, so Thompson sampling over three
// slots costs little more than one ArgmaxProbs.
//
// # Artifacts: one model family
//
// Every model here (Ridge, Logistic, MLP) is a Scorer over a feature
// spec's vector. NewArtifact wraps one with its Metadata (the spec's hash,
// the action ids of a per-action model, hyper-parameters, metrics) into a
// versioned, SHA-256-checked file; Registry keeps the versions and the
// promoted one; LoadScorer gives the service a Scorer for its spec and
// catalog and refuses any other spec (ErrSpecMismatch). NewArtifact
// refuses a FeatureSpec that is not a spec hash, so every artifact is one
// that some service can load; the Vowpal Wabbit comparison learners of
// package training have no artifact at all.
//
// # What it is not
//
//   - Not a noise-variance estimator: std is the unscaled √(xᵀA⁻¹x); the
//     policy's α or v carries the noise scale.
//   - Not non-stationary: there is no forgetting or discounting; every
//     observation counts forever.
//   - Not the explorer (decide.Explorer): choosing, sampling and propensities for
//     the slate live in package decide.
//   - Not concurrent on the write side: Update, Publish, Refresh, Clone and
//     WriteTo must be serialised by the caller; only Predict (and Name, Dim,
//     Updates) are for any goroutine.
//   - Not the joint Thompson propensity for a shared model with a full
//     covariance across candidates: ArgmaxProbs assumes independent scores.
package models
