package eval

import (
	"fmt"
	"math"
	"strings"
)

// obdSpace is the feature space of the OBD logistic reward model. A
// Random row's Round.Context is [the codes of its user features…, its
// affinity for each item…] (obdContexts); φ(x, item) is the one-hot of
// the item, of the position and of each user feature, item_feature_0,
// the one-hot of item_feature_1.., and ln(1 + the user's affinity for
// the item).
type obdSpace struct {
	items, users, positions int
	userOff                 []int   // offset of user feature k's one-hot block
	userLevels              []int   // its number of levels
	itemCat                 [][]int // per item: the indices of its categorical features
	itemF0                  []float64
	offPos, offF0, offAff   int
	hasF0, hasAff           bool
	dim                     int
}

// obdUserCodes label-encodes the user features of the Random log, in
// order of first appearance.
func obdUserCodes(d *OBDData) []map[string]int {
	var codes []map[string]int
	for _, r := range d.Random {
		for k, v := range r.User {
			for len(codes) <= k {
				codes = append(codes, map[string]int{})
			}
			if _, ok := codes[k][v]; !ok {
				codes[k][v] = len(codes[k])
			}
		}
	}
	return codes
}

func newOBDSpace(d *OBDData, positions int) *obdSpace {
	n := len(d.Prior.Alpha)
	sp := &obdSpace{items: n, positions: positions}
	sp.offPos = n
	sp.dim = n + positions
	for _, c := range obdUserCodes(d) {
		sp.userOff = append(sp.userOff, sp.dim)
		sp.userLevels = append(sp.userLevels, len(c))
		sp.dim += len(c)
	}
	sp.users = len(sp.userOff)
	if len(d.Items) == n {
		sp.hasF0 = true
		sp.offF0 = sp.dim
		sp.dim++
		sp.itemF0 = make([]float64, n)
		sp.itemCat = make([][]int, n)
		for i, it := range d.Items {
			sp.itemF0[i] = it.Feature0
		}
		// item_feature_1.. label-encoded within the file
		for k := range d.Items[0].Features {
			level := map[string]int{}
			for _, it := range d.Items {
				if k >= len(it.Features) {
					continue
				}
				if _, ok := level[it.Features[k]]; !ok {
					level[it.Features[k]] = len(level)
				}
			}
			for i, it := range d.Items {
				if k < len(it.Features) {
					sp.itemCat[i] = append(sp.itemCat[i], sp.dim+level[it.Features[k]])
				}
			}
			sp.dim += len(level)
		}
	}
	for _, r := range d.Random {
		if len(r.Affinity) == n {
			sp.hasAff = true
			break
		}
	}
	if sp.hasAff {
		sp.offAff = sp.dim
		sp.dim++
	}
	return sp
}

// obdContexts builds each Random row's Round.Context.
func obdContexts(d *OBDData) [][]float64 {
	codes := obdUserCodes(d)
	n := len(d.Prior.Alpha)
	out := make([][]float64, len(d.Random))
	for i, r := range d.Random {
		x := make([]float64, len(codes)+n)
		for k := range codes {
			x[k] = -1
			if k < len(r.User) {
				x[k] = float64(codes[k][r.User[k]])
			}
		}
		if len(r.Affinity) == n {
			copy(x[len(codes):], r.Affinity)
		}
		out[i] = x
	}
	return out
}

// features is the model's Featurizer.
func (sp *obdSpace) features(idx []int, val []float64, r *Round, a int) ([]int, []float64) {
	idx, val = append(idx, a, sp.offPos+r.Position), append(val, 1, 1)
	for k := range sp.users {
		if c := int(r.Context[k]); c >= 0 && c < sp.userLevels[k] {
			idx, val = append(idx, sp.userOff[k]+c), append(val, 1)
		}
	}
	if sp.hasF0 {
		idx, val = append(idx, sp.offF0), append(val, sp.itemF0[a])
		for _, j := range sp.itemCat[a] {
			idx, val = append(idx, j), append(val, 1)
		}
	}
	if sp.hasAff {
		if v := r.Context[sp.users+a]; v > 0 {
			idx, val = append(idx, sp.offAff), append(val, math.Log1p(v))
		}
	}
	return idx, val
}

func (sp *obdSpace) describe() string {
	parts := []string{fmt.Sprintf("item (%d)", sp.items), fmt.Sprintf("position (%d)", sp.positions)}
	if sp.users > 0 {
		parts = append(parts, fmt.Sprintf("%d user features", sp.users))
	}
	if sp.hasF0 {
		parts = append(parts, "item features")
	}
	if sp.hasAff {
		parts = append(parts, "ln(1 + user-item affinity)")
	}
	return strings.Join(parts, ", ")
}
