package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"

	"nextbest/logs"
)

// loadOutcomeTypes reads the outcome_types of nextbest serve's
// configuration file at path, so that the offline commands fold outcomes
// into rewards as the service does; "" means the default types. Other
// keys of the file are ignored.
func loadOutcomeTypes(path string) (*logs.Outcomes, error) {
	if path == "" {
		return logs.NewOutcomes(nil)
	}
	data, err := readInput("config", path)
	if err != nil {
		return nil, err
	}
	var fc struct {
		OutcomeTypes []logs.OutcomeType `yaml:"outcome_types"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	o, err := logs.NewOutcomes(fc.OutcomeTypes)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return o, nil
}
