package config

import (
	"fmt"
	"strconv"

	"vec/internal/strictyaml"
)

// Problem is one thing wrong with a configuration: the path of the field
// concerned (e.g. "clusters[0].services[1].port"; empty when the problem
// concerns the file as a whole) and what is wrong. The decoder shared with
// vec-agent reports its problems in the same type.
type Problem = strictyaml.Problem

// Error is returned for a configuration that cannot be read or does not
// validate; it lists every problem found.
type Error = strictyaml.Error

// problems collects Problems while a configuration is checked.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as an *Error, or nil when there are none.
func (ps problems) err() *Error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// index and field build field paths: index("clusters", 2) is "clusters[2]",
// field("clusters[2]", "vip") is "clusters[2].vip".
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
