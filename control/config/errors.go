package config

import "vec/internal/strictyaml"

// Problem is one thing wrong with a configuration: the path of the field
// concerned (e.g. "clusters[0].services[1].port"; empty when the problem
// concerns the file as a whole) and what is wrong. The decoder shared with
// vec-agent reports its problems in the same type.
type Problem = strictyaml.Problem

// Error is returned for a configuration that cannot be read or does not
// validate; it lists every problem found.
type Error = strictyaml.Error

// problems collects Problems while a configuration is checked; index and
// field build field paths ("clusters[2].vip").
type problems = strictyaml.Problems

var (
	index = strictyaml.Index
	field = strictyaml.Field
)
