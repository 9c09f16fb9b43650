package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Marshal writes c as YAML in the file's own format (snake_case field
// names, durations with a unit), leaving out fields at their zero value
// except set pointers (weight: 0 stays). ParseBytes(Marshal(c)) gives back
// an equal configuration; comments of the file c came from are not kept.
func Marshal(c *Config) ([]byte, error) {
	node, err := yamlNode(reflect.ValueOf(*c))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("encoding the configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding the configuration: %w", err)
	}
	return b.Bytes(), nil
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

func yamlNode(v reflect.Value) (*yaml.Node, error) {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		return scalar("!!str", time.Duration(v.Int()).String()), nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		return yamlNode(v.Elem())
	case reflect.String:
		return scalar("!!str", v.String()), nil
	case reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(v.Bool())), nil
	case reflect.Int:
		return scalar("!!int", strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Float64:
		// No tag: "50" reads back as a number into a float field, and
		// "!!float 50" would only be noise in the file.
		return scalar("", strconv.FormatFloat(v.Float(), 'g', -1, 64)), nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			item, err := yamlNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, item)
		}
		return n, nil
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			name := t.Field(i).Tag.Get("mapstructure")
			f := v.Field(i)
			if name == "" || f.IsZero() {
				continue
			}
			value, err := yamlNode(f)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, scalar("!!str", name), value)
		}
		return n, nil
	}
	return nil, fmt.Errorf("configuration field of type %s cannot be written", v.Type())
}
