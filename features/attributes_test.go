package features_test

import (
	"errors"
	"fmt"
	"testing"

	"nextbest/examples/retail"
	"nextbest/features"
)

func TestAttributesOfTheSpec(t *testing.T) {
	spec, err := features.ParseSpec(retail.FeatureSpec)
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.AttributeEvent(); got != "profile_update" {
		t.Errorf("AttributeEvent = %q, want profile_update", got)
	}
	if got := fmt.Sprint(spec.Attributes()); got != "[{age number} {region string} {tier string} {email_opt_in bool}]" {
		t.Errorf("Attributes = %s", got)
	}
	if err := spec.CheckAttributeNames("attributes.", map[string]any{"tier": "gold", "age": 3}); err != nil {
		t.Errorf("declared attributes refused: %v", err)
	}
	err = spec.CheckAttributeNames("attributes.", map[string]any{"tier": "gold", "zz": 1, "shoe_size": 42})
	var fe *features.FieldError
	if !errors.As(err, &fe) || fe.Field != "attributes.shoe_size" {
		t.Errorf("undeclared attributes: %v, want the first in byte order, attributes.shoe_size", err)
	}
}
