package main

import (
	"fmt"
	"io"

	"vec/agent"
)

// checkInvalid is vec-agent --check-config's exit status for a file that
// reads but would not be accepted; a valid file gives exitOK and an
// unreadable one exitUsage (docs/configuration.md).
const checkInvalid = 1

// checkConfig is vec-agent --check-config FILE: the file is validated as
// the agent would at start-up, every problem listed on stderr naming its
// field.
func checkConfig(path string, openFiles bool, stderr io.Writer) int {
	problems, err := agent.CheckConfigFile(path, openFiles)
	if err != nil {
		fmt.Fprintf(stderr, "vec-agent: %v\n", err)
		return exitUsage
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "vec-agent: %s: invalid configuration (%d problem(s)):\n", path, len(problems))
		for _, p := range problems {
			fmt.Fprintf(stderr, "\t%s\n", p)
		}
		return checkInvalid
	}
	what := "configuration is valid"
	if !openFiles {
		what += " (the key files were not read)"
	}
	fmt.Fprintf(stderr, "vec-agent: %s: %s\n", path, what)
	return exitOK
}
