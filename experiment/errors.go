package experiment

import "errors"

// ErrInvalidOptions is returned by Analyze for options or an experiment
// that cannot be analysed (a confidence level outside (0, 1), an unknown
// metric or control arm, fewer than two arms), and by ChiSquareGOF for
// shares that cannot be tested. It is wrapped with the detail.
var ErrInvalidOptions = errors.New("experiment: invalid options")
