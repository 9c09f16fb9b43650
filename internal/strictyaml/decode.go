package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Options word the messages for the program reading the file.
type Options struct {
	// Program is the name of the program reading the file ("vec-agent").
	Program string
	// Sections lists some top-level keys as a hint ("name:, vips:, auth:, …"),
	// in "the top level must be a mapping of sections (…)".
	Sections string
	// FieldExample is a field name of this file ("max_clock_skew").
	FieldExample string
}

// Decode decodes data, exactly one YAML document, into out (a pointer to
// a struct with mapstructure tags) through v, which may hold defaults. Every
// problem found is listed in the *Error.
func Decode(data []byte, v *viper.Viper, out any, opts Options) *Error {
	// viper folds keys to lower case and reads dotted keys as nested ones,
	// so "VIPs" or "auth.key_files" would slip past UnmarshalExact; the
	// field names are checked on the YAML tree first.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil && err != io.EOF {
		return syntaxError(err)
	}
	// viper reads only the first document; a second one would be ignored.
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return &Error{Problems: []Problem{{Message: fmt.Sprintf("the file holds more than one YAML document (---); %s reads exactly one", opts.Program)}}}
	case err != io.EOF:
		return syntaxError(err)
	}
	var ps Problems
	checkFieldNames(&root, "", opts, &ps)
	if err := ps.Err(); err != nil {
		return err
	}

	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return syntaxError(err)
	}
	err := v.UnmarshalExact(out, viper.DecodeHook(DecodeHook), func(dc *mapstructure.DecoderConfig) {
		// No silent conversions: "30" is not a number, 1 is not true.
		dc.WeaklyTypedInput = false
	})
	if err != nil {
		rewordDecodeError(err, &ps)
		return ps.Err()
	}
	return nil
}

func syntaxError(err error) *Error {
	var pe viper.ConfigParseError
	if errors.As(err, &pe) {
		err = pe.Unwrap()
	}
	// yaml.v3 lists several errors on indented lines; keep one line each.
	msg := strings.ReplaceAll(err.Error(), "\n  ", " ")
	return &Error{Problems: []Problem{{Message: "not valid YAML: " + msg}}}
}

var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkFieldNames reports every mapping key that is not a plain lower-case
// snake_case name. Aliases are not followed: the anchored node is checked
// where it is defined, and following them could expand exponentially.
func checkFieldNames(n *yaml.Node, path string, opts Options, ps *Problems) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return
		}
		top := n.Content[0]
		if top.Kind != yaml.MappingNode && !(top.Kind == yaml.ScalarNode && top.Tag == "!!null") {
			ps.Add("", "the top level must be a mapping of sections (%s)", opts.Sections)
			return
		}
		checkFieldNames(top, path, opts, ps)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			if key.Kind == yaml.ScalarNode && key.Value == "<<" && key.Tag == "!!merge" {
				continue
			}
			if key.Kind != yaml.ScalarNode || !fieldName.MatchString(key.Value) {
				name := key.Value
				if key.Kind != yaml.ScalarNode {
					name = "?"
				}
				ps.Add(Field(path, strconv.Quote(name)), "unknown field (field names are lower-case snake_case, e.g. %s)", opts.FieldExample)
				continue
			}
			checkFieldNames(value, Field(path, key.Value), opts, ps)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			checkFieldNames(item, Index(path, i), opts, ps)
		}
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// DecodeHook converts YAML values for configuration types: durations must
// be strings with a unit ("90s"; a bare 90 would silently mean 90 ns), and
// integers must be whole numbers that fit. Values that already have the
// target type (viper defaults) pass unchanged.
func DecodeHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	switch {
	case to == durationType:
		switch v := data.(type) {
		case string:
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("%q is not a duration (write e.g. 90s or 15m)", v)
			}
			return d, nil
		case int, int64, uint64, float64:
			return nil, fmt.Errorf("%v needs a unit (write e.g. %vs)", v, v)
		}
	case to.Kind() == reflect.Int:
		switch v := data.(type) {
		case float64:
			if v != math.Trunc(v) {
				return nil, fmt.Errorf("%v is not a whole number", v)
			}
			if v < math.MinInt64 || v >= math.MaxInt64 {
				return nil, fmt.Errorf("%v is out of range", v)
			}
			return int64(v), nil
		case uint64:
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("%v is too large", v)
			}
		}
	}
	return data, nil
}

// rewordDecodeError turns mapstructure's error tree into Problems named by
// field path.
func rewordDecodeError(err error, ps *Problems) {
	var de *mapstructure.DecodeError
	switch e := err.(type) {
	case *mapstructure.DecodeError:
		de = e
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			rewordDecodeError(inner, ps)
		}
		return
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			rewordDecodeError(inner, ps)
			return
		}
		ps.Add("", "%s", err)
		return
	default:
		ps.Add("", "%s", err)
		return
	}

	inner := de.Unwrap()
	msg := inner.Error()
	if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
		// Field names were checked to be snake_case, so ", " only separates.
		for _, key := range strings.Split(keys, ", ") {
			ps.Add(Field(de.Name(), key), "unknown field")
		}
		return
	}
	var ute *mapstructure.UnconvertibleTypeError
	if errors.As(inner, &ute) {
		msg = fmt.Sprintf("expected %s, got %s", describeType(ute.Expected.Type()), describeValue(ute.Value))
	}
	// mapstructure's wording for lists and mappings of the wrong shape.
	if got, ok := strings.CutPrefix(msg, "source data must be an array or slice, got "); ok {
		msg = "expected a list, got " + got
	}
	if got, ok := strings.CutPrefix(msg, "expected a map or struct, got "); ok {
		msg = "expected a mapping (key: value), got " + strings.Trim(got, `"`)
	}
	ps.Add(de.Name(), "%s", msg)
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping (key: value)"
	}
	return t.String()
}

func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("text %q", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case int, int64, uint64, float64:
		return fmt.Sprintf("the number %v", v)
	case time.Time:
		return "a date (quote it if it is meant as text)"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
