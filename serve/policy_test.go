package serve_test

import "nextbest/decide"

func retailPolicy() decide.Policy {
	return decide.Policy{Kind: decide.EpsilonGreedy, Epsilon: 0.1, Alpha: 1}
}
