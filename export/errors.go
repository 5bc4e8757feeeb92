package export

import "errors"

// Sentinel errors returned by this package. Test for them with errors.Is;
// the returned errors wrap them with the detail.
var (
	// ErrBadOptions is returned by Journal and Decisions for options that
	// cannot work: an unknown format, --raw with a format that has no raw
	// shape (dsjson, cb_adf), an empty time range.
	ErrBadOptions = errors.New("export: invalid options")
)
