package config_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"vec/agent"
	"vec/control/config"
)

// TestReferenceDocumentsEveryKey holds docs/configuration.md to the Go
// types: every key vecd (config.Config) and vec-agent (agent.Config) read,
// found by reflection on their mapstructure tags, must have a row in its
// program's section, and every row must name a key that exists. Lists and
// leaves need a row; a nested map (a struct-valued key such as auth) may
// have one.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := documentedKeys(t, string(doc))
	for _, program := range []struct {
		heading string
		typ     reflect.Type
	}{
		{"vecd", reflect.TypeFor[config.Config]()},
		{"vec-agent", reflect.TypeFor[agent.Config]()},
	} {
		documented, ok := sections[program.heading]
		if !ok {
			t.Errorf("docs/configuration.md has no \"## %s\" section", program.heading)
			continue
		}
		required, optional := map[string]bool{}, map[string]bool{}
		walkKeys(t, program.typ, "", required, optional)
		if len(required) < 10 {
			t.Fatalf("%s: only %d keys found by reflection: %v", program.heading, len(required), required)
		}
		var missing, unknown []string
		for key := range required {
			if !documented[key] {
				missing = append(missing, key)
			}
		}
		for key := range documented {
			if !required[key] && !optional[key] {
				unknown = append(unknown, key)
			}
		}
		slices.Sort(missing)
		slices.Sort(unknown)
		if len(missing) > 0 {
			t.Errorf("%s keys missing from docs/configuration.md:\n\t%s", program.heading, strings.Join(missing, "\n\t"))
		}
		if len(unknown) > 0 {
			t.Errorf("docs/configuration.md lists %s keys that do not exist:\n\t%s", program.heading, strings.Join(unknown, "\n\t"))
		}
	}
}

// walkKeys adds the key paths of struct type typ under prefix: leaves and
// lists to required, nested maps (structs) to optional. A list of structs
// is "key[]", its items' keys follow it.
func walkKeys(t *testing.T, typ reflect.Type, prefix string, required, optional map[string]bool) {
	t.Helper()
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if tag == "" || tag == "-" {
			t.Errorf("%s%s has no mapstructure tag: the decoder would take it by its Go name", prefix, f.Name)
			continue
		}
		key := prefix + tag
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[time.Duration]():
			required[key] = true
		case ft.Kind() == reflect.Struct:
			optional[key] = true
			walkKeys(t, ft, key+".", required, optional)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			required[key] = true
			walkKeys(t, ft.Elem(), key+"[].", required, optional)
		default:
			required[key] = true
		}
	}
}

// documentedKeys returns, for each "## " section of the reference, the
// keys named in the first cell of its table rows (`key`).
func documentedKeys(t *testing.T, doc string) map[string]map[string]bool {
	t.Helper()
	row := regexp.MustCompile("^\\| `([a-z0-9_.\\[\\]]+)` \\|")
	out := map[string]map[string]bool{}
	var current map[string]bool
	for line := range strings.SplitSeq(doc, "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			current = map[string]bool{}
			out[strings.TrimSpace(h)] = current
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil || current == nil {
			continue
		}
		if current[m[1]] {
			t.Errorf("docs/configuration.md lists %s twice", m[1])
		}
		current[m[1]] = true
	}
	return out
}
