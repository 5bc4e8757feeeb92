package sim

import "time"

// The ground truth of the simulated population: who the customers are and
// how likely each of them is to convert on each action in each situation.
// Everything here is a read-only table; the numbers are logit
// contributions (a +1 roughly multiplies the odds of a conversion by e).

// Segments of the population.
const (
	DealSeeker    = "deal_seeker"
	LoyalPremium  = "loyal_premium"
	CasualBrowser = "casual_browser"
	Lapsing       = "lapsing"
)

// The categories, pages, devices, tiers and channels the truth knows; they
// are the values the retail feature spec declares.
var (
	categories = []string{"discount", "content", "cross_sell", "retention", "service", "loyalty"}
	pages      = []string{"", "home", "product", "category", "cart", "checkout", "account", "support"}
	devices    = []string{"", "desktop", "mobile", "tablet"}
	tiers      = []string{"", "bronze", "silver", "gold", "platinum"}
	channels   = []string{"web", "app", "email", "call_centre"}
	stages     = []string{"awareness", "consideration", "cart", "purchase", "retention"}
)

const (
	catDiscount = iota
	catContent
	catCrossSell
	catRetention
	catService
	catLoyalty
	nCat
)

const (
	pgNone = iota
	pgHome
	pgProduct
	pgCategory
	pgCart
	pgCheckout
	pgAccount
	pgSupport
	nPage
)

const (
	devNone = iota
	devDesktop
	devMobile
	devTablet
	nDev
)

const (
	chWeb = iota
	chApp
	chEmail
	chCall
	nChan
)

const (
	stAwareness = iota
	stConsideration
	stCart
	stPurchase
	stRetention
	nStage
)

const nTier = 5

// segment describes one customer segment: how its customers are made and
// what they respond to.
type segment struct {
	name  string
	share float64 // of synthetic customers
	// tier probabilities over tiers[1:] (bronze..platinum); the rest have no tier
	tier [nTier - 1]float64
	// channel mix of visits: web, app, email, call_centre
	channel [nChan]float64
	// device mix on web: desktop, mobile, tablet
	device [nDev - 1]float64
	// discountSens multiplies the action's discount (0.05..0.2) in the logit
	discountSens float64
	// affinity per category
	affinity [nCat]float64
	// buy is the chance that a product view leads to add_to_cart
	buy float64
	// activity is the relative visit rate
	activity float64
	// basket is the median cart value in EUR
	basket float64
}

var segments = []segment{
	{
		name: DealSeeker, share: 0.35,
		tier:    [4]float64{0.6, 0.25, 0.05, 0},
		channel: [4]float64{0.55, 0.25, 0.17, 0.03},
		device:  [3]float64{0.3, 0.6, 0.1},
		// 0.10 off: +1.2, 0.20 off: +2.4
		discountSens: 12,
		affinity:     [nCat]float64{0.5, -0.3, -0.3, 0.2, 0, 0.1},
		buy:          0.3, activity: 1.2, basket: 60,
	},
	{
		name: LoyalPremium, share: 0.2,
		tier:         [4]float64{0.05, 0.25, 0.45, 0.25},
		channel:      [4]float64{0.45, 0.35, 0.12, 0.08},
		device:       [3]float64{0.55, 0.3, 0.15},
		discountSens: 1,
		affinity:     [nCat]float64{-0.6, 0.1, 0.9, 0.2, 0.3, 0.7},
		buy:          0.35, activity: 1.0, basket: 150,
	},
	{
		name: CasualBrowser, share: 0.3,
		tier:         [4]float64{0.3, 0.1, 0, 0},
		channel:      [4]float64{0.6, 0.2, 0.18, 0.02},
		device:       [3]float64{0.25, 0.6, 0.15},
		discountSens: 5,
		affinity:     [nCat]float64{-0.1, 0.8, -0.3, -0.6, -0.1, -0.2},
		buy:          0.12, activity: 0.9, basket: 45,
	},
	{
		name: Lapsing, share: 0.15,
		tier:         [4]float64{0.3, 0.3, 0.2, 0.1},
		channel:      [4]float64{0.3, 0.15, 0.45, 0.1},
		device:       [3]float64{0.5, 0.4, 0.1},
		discountSens: 8,
		affinity:     [nCat]float64{0.1, -0.5, -0.4, 1.1, 0.2, -0.1},
		buy:          0.1, activity: 0.5, basket: 80,
	},
}

// baseLogit is the logit of an average customer with no other effect:
// about 4% conversion.
const baseLogit = -3.2

// stageCat is the effect of the journey stage on each category.
var stageCat = [nStage][nCat]float64{
	stAwareness:     {-0.3, 0.8, -1.0, -0.8, -0.2, -0.3},
	stConsideration: {0.2, 0.4, 0.2, -0.6, 0.1, 0},
	stCart:          {1.0, -0.6, 0.6, -0.4, 0.3, -0.2},
	stPurchase:      {-0.5, 0.1, 0.5, -0.5, 0.2, 0.6},
	stRetention:     {-0.2, 0.2, 0.1, 0.8, 0.1, 0.4},
}

// channelCat is the effect of the channel on each category.
var channelCat = [nChan][nCat]float64{
	chWeb:   {0, 0, 0, 0, 0, 0},
	chApp:   {0.2, -0.1, 0, 0, 0, 0.3},
	chEmail: {-0.5, -0.2, -0.7, 0.2, -0.3, -0.5},
	chCall:  {0, 0, 0.2, 1.2, 1.0, 0.3},
}

// deviceCat is the effect of the device on each category.
var deviceCat = [nDev][nCat]float64{
	devDesktop: {0, -0.1, 0.3, 0, 0, 0},
	devMobile:  {0.1, -0.2, -0.3, 0, 0, 0.1},
	devTablet:  {0, 0.4, 0.1, 0, 0, 0},
}

// actionEffects are the effects that belong to one action: page, device,
// tier and its base attractiveness.
var actionEffects = map[string]struct {
	base   float64
	page   map[int]float64
	device map[int]float64
	tier   map[int]float64
}{
	"free-shipping":         {base: 0.2, page: map[int]float64{pgCheckout: 1.0, pgCart: 0.5}},
	"cart-reminder-10":      {base: 0, page: map[int]float64{pgCart: 0.4, pgProduct: -0.3}},
	"welcome-15":            {base: -0.2, page: map[int]float64{pgHome: 0.3, pgCategory: 0.2}},
	"new-arrivals":          {base: 0.3, page: map[int]float64{pgHome: 0.5, pgCategory: 0.6, pgCart: -0.5}},
	"style-guide":           {base: 0.4, page: map[int]float64{pgHome: 0.3, pgCategory: 0.4}},
	"matching-accessories":  {base: -0.1, page: map[int]float64{pgCart: 0.6, pgProduct: 0.2}, device: map[int]float64{devMobile: -0.2}},
	"home-collection":       {base: -0.3, page: map[int]float64{pgHome: 0.4, pgAccount: 0.3}},
	"winback-20":            {base: -0.3},
	"retention-call":        {base: -1.2, tier: map[int]float64{4: 0.6}},
	"loyalty-join":          {base: -0.2, page: map[int]float64{pgAccount: 0.7, pgCheckout: 0.3}, tier: map[int]float64{0: 0.3}},
	"loyalty-double-points": {base: 0.1, page: map[int]float64{pgAccount: 0.5, pgCheckout: 0.2}, tier: map[int]float64{3: 0.3, 4: 0.4}},
	"app-download":          {base: -0.4, device: map[int]float64{devMobile: 0.8, devDesktop: -0.5}},
	"support-followup":      {base: 0.5, page: map[int]float64{pgSupport: 0.8}},
	"size-advice":           {base: 0.2, page: map[int]float64{pgProduct: 0.8, pgCart: 0.2}},
	"premium-upgrade":       {base: -1.3, page: map[int]float64{pgAccount: 0.5, pgCheckout: 0.3}, tier: map[int]float64{3: 0.5, 4: 0.9}},
}

// hourEffect is the effect of the local hour of the visit: evenings
// convert better, nights worse; e-mail read in the morning does better.
func hourEffect(hour, ch int) float64 {
	e := 0.0
	switch {
	case hour >= 19 && hour <= 22:
		e = 0.25
	case hour < 6:
		e = -0.4
	}
	if ch == chEmail && hour >= 7 && hour <= 10 {
		e += 0.3
	}
	return e
}

// Fatigue: every impression of the same action in the last FatigueWindow
// lowers the logit by FatiguePerImpression.
const (
	FatiguePerImpression = 0.45
	FatigueWindow        = 72 * time.Hour
)

// tasteSD is the standard deviation of the latent segment×action taste,
// drawn from the seed; customerTasteSD that of each customer's own taste
// per category.
const (
	tasteSD         = 0.4
	customerTasteSD = 0.3
)

// positionBias is the factor on the conversion probability of an action
// in slot k (slot 0 is seen fully).
func positionBias(slot int) float64 { return 1 / float64(1+slot) }

func indexOf(vals []string, s string) int {
	for i, v := range vals {
		if v == s {
			return i
		}
	}
	return -1
}
