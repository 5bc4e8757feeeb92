package serve_test

import "nextbest/decide"

func retailExplorer() decide.Explorer {
	return decide.Explorer{Kind: decide.EpsilonGreedy, Epsilon: 0.1, Alpha: 1}
}
