package strictyaml

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

type testConfig struct {
	Name    string        `mapstructure:"name"`
	Timeout time.Duration `mapstructure:"timeout"`
	Count   int           `mapstructure:"count"`
	Items   []struct {
		Weight int `mapstructure:"weight"`
	} `mapstructure:"items"`
}

var testOptions = Options{Program: "test", Sections: "name:, items:", FieldExample: "timeout"}

func TestDecode(t *testing.T) {
	v := viper.New()
	v.SetDefault("timeout", 5*time.Second)
	v.SetDefault("count", 3)
	var c testConfig
	if err := Decode([]byte("name: a\nbase: &b {weight: 2}\n"), v, &c, testOptions); err == nil ||
		!strings.Contains(err.Error(), "base: unknown field") {
		t.Errorf("unknown top-level field: %v", err)
	}
	c = testConfig{}
	if err := Decode([]byte("name: a\nitems: [{weight: 2.0}]\n"), v, &c, testOptions); err != nil {
		t.Fatal(err)
	}
	if c.Name != "a" || c.Timeout != 5*time.Second || c.Count != 3 || len(c.Items) != 1 || c.Items[0].Weight != 2 {
		t.Errorf("decoded %+v (defaults must pass the hook unchanged)", c)
	}
	if err := Decode(nil, viper.New(), &testConfig{}, testOptions); err != nil {
		t.Errorf("empty file: %v", err)
	}
	for text, want := range map[string]string{
		"- a\n":                         "the top level must be a mapping of sections (name:, items:)",
		"name: [\n":                     "not valid YAML",
		"items: [{Weight: 1}]\n":        `items[0]."Weight": unknown field (field names are lower-case snake_case, e.g. timeout)`,
		"items: [{weight: 1.5}]\n":      "items[0].weight: 1.5 is not a whole number",
		"count: 18446744073709551615\n": "count: 18446744073709551615 is too large",
		"timeout: 90\n":                 "timeout: 90 needs a unit (write e.g. 90s)",
		"name: x\n---\nname: y\n":       "more than one YAML document (---); test reads exactly one",
		"items: {weight: 1}\n":          "items: expected a list",
		"name: 2026-01-02\n":            "name: expected text, got a date",
	} {
		err := Decode([]byte(text), viper.New(), &testConfig{}, testOptions)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want %q, got %v", text, want, err)
		}
	}
}
