package personalizer

import (
	"math"
	"strings"
	"time"
)

// Mode is a learning mode (the service configuration's learningMode).
type Mode string

// The learning modes.
const (
	// Online serves the model's ε-greedy choice and learns from it.
	Online Mode = "Online"
	// Apprentice serves the baseline (the first non-excluded action, or
	// each slot's baselineAction) and learns from it.
	Apprentice Mode = "Apprentice"
	// LoggingOnly serves the baseline and only logs.
	LoggingOnly Mode = "LoggingOnly"
)

// Learns reports whether events ranked in mode m are learned from.
func (m Mode) Learns() bool { return m != LoggingOnly }

// ServesBaseline reports whether mode m serves the baseline instead of
// the model's choice.
func (m Mode) ServesBaseline() bool { return m == Apprentice || m == LoggingOnly }

func parseMode(s string) (Mode, bool) {
	for _, m := range []Mode{Online, Apprentice, LoggingOnly} {
		if strings.EqualFold(s, string(m)) {
			return m, true
		}
	}
	return "", false
}

// Aggregation combines the rewards of one slot of an event that arrive
// within the reward wait time (rewardAggregation).
type Aggregation string

// The aggregations.
const (
	Earliest Aggregation = "earliest" // the first reward
	Average  Aggregation = "average"  // the mean of the rewards
	Sum      Aggregation = "sum"      // their sum
)

func parseAggregation(s string) (Aggregation, bool) {
	for _, a := range []Aggregation{Earliest, Average, Sum} {
		if strings.EqualFold(s, string(a)) {
			return a, true
		}
	}
	return "", false
}

// Bounds of the service configuration, from the 2022-09-01-preview
// specification (rewardWaitTime "between 5 seconds and 2 days").
const (
	MinRewardWait     = 5 * time.Second
	MaxRewardWait     = 48 * time.Hour
	MaxModelUpdate    = 24 * time.Hour
	DefaultRewardWait = 10 * time.Minute
	// DefaultExploration is Personalizer's default explorationPercentage.
	DefaultExploration = 0.2
	// DefaultModelUpdate is how often, by default, the model that ranks
	// takes in what was learned (modelExportFrequency).
	DefaultModelUpdate = time.Minute
)

// ServiceConfiguration is the service configuration as the API carries
// it (GET and PUT /configurations/service), the names and types of the
// specification (v1.0, and the 2022-09-01-preview's additions). It is
// also how nextbest keeps it. Pointers tell a field left out from a zero.
type ServiceConfiguration struct {
	RewardWaitTime            string   `json:"rewardWaitTime" yaml:"rewardWaitTime"`
	DefaultReward             *float64 `json:"defaultReward" yaml:"defaultReward"`
	RewardAggregation         string   `json:"rewardAggregation" yaml:"rewardAggregation"`
	ExplorationPercentage     *float64 `json:"explorationPercentage" yaml:"explorationPercentage"`
	ModelExportFrequency      string   `json:"modelExportFrequency" yaml:"modelExportFrequency"`
	LogMirrorEnabled          *bool    `json:"logMirrorEnabled,omitempty" yaml:"logMirrorEnabled,omitempty"`
	LogMirrorSasURI           string   `json:"logMirrorSasUri,omitempty" yaml:"logMirrorSasUri,omitempty"`
	LogRetentionDays          *int     `json:"logRetentionDays" yaml:"logRetentionDays"`
	LastConfigurationEditDate string   `json:"lastConfigurationEditDate,omitempty" yaml:"lastConfigurationEditDate,omitempty"`
	LearningMode              string   `json:"learningMode,omitempty" yaml:"learningMode,omitempty"`
	IsAutoOptimizationEnabled *bool    `json:"isAutoOptimizationEnabled,omitempty" yaml:"isAutoOptimizationEnabled,omitempty"`
	AutoOptimizationFrequency string   `json:"autoOptimizationFrequency,omitempty" yaml:"autoOptimizationFrequency,omitempty"`
	AutoOptimizationStartDate string   `json:"autoOptimizationStartDate,omitempty" yaml:"autoOptimizationStartDate,omitempty"`
	ModelRetrainDays          *int     `json:"modelRetrainDays,omitempty" yaml:"modelRetrainDays,omitempty"`
}

// Settings are a resolved service configuration: what nextbest does
// with it, and the document it answers GET with (Doc).
type Settings struct {
	// RewardWait is the join window: how long after an event's
	// activation its rewards count.
	RewardWait time.Duration
	// DefaultReward is the reward of an active event that gets none
	// within RewardWait.
	DefaultReward float64
	Aggregation   Aggregation
	// Exploration is ε: the share of rank calls that serve another
	// action than the model's best.
	Exploration float64
	// ModelUpdate is how often the model that ranks takes in what the
	// learner learned (modelExportFrequency; 0: as soon as it learns).
	ModelUpdate time.Duration
	Mode        Mode
	Doc         ServiceConfiguration
}

// DefaultSettings are a new resource's settings: learning mode Online,
// reward wait 10 minutes, default reward 0, the earliest reward counts,
// 20% exploration, the model updated every minute.
func DefaultSettings() Settings {
	zero, eps, ret, off := 0.0, DefaultExploration, -1, false
	s, err := Resolve(Settings{Mode: Online}, ServiceConfiguration{
		RewardWaitTime: FormatDuration(DefaultRewardWait), DefaultReward: &zero, RewardAggregation: string(Earliest),
		ExplorationPercentage: &eps, ModelExportFrequency: FormatDuration(DefaultModelUpdate),
		LogMirrorEnabled: &off, LogRetentionDays: &ret, LearningMode: string(Online),
	}, time.Time{})
	if err != nil {
		panic("BUG: personalizer: the default settings do not resolve: " + err.Error())
	}
	return s
}

// Resolve validates c, a service configuration PUT over cur, and returns
// the settings it makes, edited at now (lastConfigurationEditDate; zero
// keeps cur's). The fields the v1.0 specification requires must be
// present; a learning mode left out keeps cur's. As the 2022-09-01-preview
// specifies, a change of learning mode may not come with a change of
// defaultReward, rewardWaitTime or rewardAggregation
// (InvalidLearningModeServiceConfiguration). Errors are *Error.
func Resolve(cur Settings, c ServiceConfiguration, now time.Time) (Settings, error) {
	bad := func(field, format string, args ...any) (Settings, error) {
		return Settings{}, Errorf(CodeInvalidServiceConfiguration, field, format, args...)
	}
	var s Settings
	var err error
	if c.RewardWaitTime == "" {
		return bad("rewardWaitTime", "is required (an ISO 8601 duration, e.g. PT10M)")
	}
	if s.RewardWait, err = ParseDuration(c.RewardWaitTime); err != nil {
		return bad("rewardWaitTime", "%v", err)
	}
	if s.RewardWait < MinRewardWait || s.RewardWait > MaxRewardWait {
		return Settings{}, Errorf(CodeInvalidRewardWaitTime, "rewardWaitTime", "%s must be between 5 seconds (PT5S) and 2 days (P2D)", c.RewardWaitTime)
	}
	if c.DefaultReward == nil {
		return bad("defaultReward", "is required (a number in [-1, 1])")
	}
	if s.DefaultReward = *c.DefaultReward; !(s.DefaultReward >= -1 && s.DefaultReward <= 1) {
		return bad("defaultReward", "%v is not in [-1, 1]", s.DefaultReward)
	}
	var ok bool
	if s.Aggregation, ok = parseAggregation(c.RewardAggregation); !ok {
		return bad("rewardAggregation", "%q: want earliest, average or sum", c.RewardAggregation)
	}
	if c.ExplorationPercentage == nil {
		return bad("explorationPercentage", "is required (a number in [0, 1])")
	}
	if s.Exploration = *c.ExplorationPercentage; !(s.Exploration >= 0 && s.Exploration <= 1) {
		return bad("explorationPercentage", "%v is not in [0, 1]", s.Exploration)
	}
	if c.ModelExportFrequency == "" {
		return bad("modelExportFrequency", "is required (an ISO 8601 duration, e.g. PT1M)")
	}
	if s.ModelUpdate, err = ParseDuration(c.ModelExportFrequency); err != nil {
		return bad("modelExportFrequency", "%v", err)
	}
	if s.ModelUpdate > MaxModelUpdate {
		return bad("modelExportFrequency", "%s is longer than a day", c.ModelExportFrequency)
	}
	if c.LogRetentionDays == nil {
		return bad("logRetentionDays", "is required (-1: never delete)")
	}
	if d := *c.LogRetentionDays; d != -1 && float64(d) < 1+math.Ceil(s.RewardWait.Hours()/24) {
		return Settings{}, Errorf(CodeInvalidLogRetentionDays, "logRetentionDays",
			"%d: must be -1 (never delete) or at least the reward wait time plus 1 day, rounded up", d)
	}
	if c.ModelRetrainDays != nil && *c.ModelRetrainDays < 0 {
		return bad("modelRetrainDays", "must not be negative")
	}
	if c.AutoOptimizationFrequency != "" {
		if _, err := ParseDuration(c.AutoOptimizationFrequency); err != nil {
			return bad("autoOptimizationFrequency", "%v", err)
		}
	}
	if c.AutoOptimizationStartDate != "" {
		if _, err := time.Parse(time.RFC3339, c.AutoOptimizationStartDate); err != nil {
			return bad("autoOptimizationStartDate", "%q is not an RFC 3339 date-time", c.AutoOptimizationStartDate)
		}
	}
	s.Mode = cur.Mode
	if c.LearningMode != "" {
		if s.Mode, ok = parseMode(c.LearningMode); !ok {
			return bad("learningMode", "%q: want Online, Apprentice or LoggingOnly", c.LearningMode)
		}
	}
	if s.Mode == "" {
		s.Mode = Online
	}
	if cur.Mode != "" && s.Mode != cur.Mode && cur.Doc.RewardWaitTime != "" &&
		(s.RewardWait != cur.RewardWait || s.DefaultReward != cur.DefaultReward || s.Aggregation != cur.Aggregation) {
		return Settings{}, Errorf(CodeInvalidLearningModeConfig, "learningMode",
			"changing the learning mode from %s to %s together with defaultReward, rewardWaitTime or rewardAggregation is not allowed: change the mode first, then the other settings", cur.Mode, s.Mode)
	}
	// the document as it will be answered: canonical spellings, the
	// required fields present
	d := c
	d.RewardWaitTime = FormatDuration(s.RewardWait)
	d.ModelExportFrequency = FormatDuration(s.ModelUpdate)
	d.RewardAggregation = string(s.Aggregation)
	d.LearningMode = string(s.Mode)
	dr, ep := s.DefaultReward, s.Exploration
	d.DefaultReward, d.ExplorationPercentage = &dr, &ep
	ret := *c.LogRetentionDays
	d.LogRetentionDays = &ret
	if d.ModelRetrainDays == nil {
		zero := 0
		d.ModelRetrainDays = &zero
	}
	d.LastConfigurationEditDate = cur.Doc.LastConfigurationEditDate
	if !now.IsZero() {
		d.LastConfigurationEditDate = now.UTC().Format(time.RFC3339)
	}
	s.Doc = d
	return s, nil
}

// PolicyContract is the learning settings as the API carries them (GET,
// PUT and DELETE /configurations/policy): a name and Vowpal Wabbit
// arguments.
type PolicyContract struct {
	Name      *string `json:"name" yaml:"name"`
	Arguments *string `json:"arguments" yaml:"arguments"`
}

// Policy is a resolved PolicyContract.
type Policy struct {
	Name      string `json:"name" yaml:"name"`
	Arguments string `json:"arguments" yaml:"arguments"`
}

// DefaultPolicy is a new resource's learning settings (and what DELETE
// /configurations/policy restores): Vowpal Wabbit's spelling of what
// nextbest does, a contextual bandit over action-dependent features with
// ε-greedy exploration and quadratic context×action interactions.
func DefaultPolicy() Policy {
	return Policy{Name: "nextbest", Arguments: "--cb_explore_adf --epsilon 0.2 -q ::"}
}

// Limits of the policy contract (the specification's).
const (
	maxPolicyName      = 256
	maxPolicyArguments = 1024
)

// ResolvePolicy validates a learning-settings document. nextbest keeps
// the arguments (Vowpal Wabbit's command line) and answers them back, but
// does not run Vowpal Wabbit: its model is always the ridge regression
// over the hashed rows with context×action crosses (package
// documentation), of the dimension the server configures, and ε is the
// service configuration's explorationPercentage. Errors are *Error.
func ResolvePolicy(c PolicyContract) (Policy, error) {
	if c.Name == nil || *c.Name == "" {
		return Policy{}, Errorf(CodeInvalidPolicyContract, "name", "is required")
	}
	if c.Arguments == nil {
		return Policy{}, Errorf(CodeInvalidPolicyContract, "arguments", "is required")
	}
	p := Policy{Name: *c.Name, Arguments: *c.Arguments}
	switch {
	case len([]rune(p.Name)) > maxPolicyName:
		return Policy{}, Errorf(CodeInvalidPolicyContract, "name", "must be at most %d characters", maxPolicyName)
	case len([]rune(p.Arguments)) > maxPolicyArguments:
		return Policy{}, Errorf(CodeInvalidPolicyContract, "arguments", "must be at most %d characters", maxPolicyArguments)
	}
	for _, r := range p.Name + p.Arguments {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return Policy{}, Errorf(CodeInvalidPolicyConfiguration, "arguments", "must not contain control characters")
		}
	}
	return p, nil
}
