package strictyaml

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// Field is the path of the field concerned, e.g. "auth.max_clock_skew"
	// or "metrics.scripts[1].timeout"; empty when the problem concerns the
	// file as a whole (a YAML syntax error).
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Error lists every problem found while decoding a file.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Problems collects the Problems found while a configuration is checked;
// vecd's validation (control/config) collects into it too.
type Problems []Problem

// Add records a problem with the field at path field.
func (ps *Problems) Add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns the collected problems as an *Error, or nil when there are none.
func (ps Problems) Err() *Error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// Index and Field build field paths: Index("scripts", 2) is "scripts[2]",
// Field("scripts[2]", "name") is "scripts[2].name".
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Field: see Index.
func Field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
