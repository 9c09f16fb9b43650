package main

import (
	"encoding/json"
	"os"

	"vec/control/apiwire"
)

// writeJSON writes the counters to path atomically (a temporary file
// renamed over it), so a reader never sees half a file.
func writeJSON(st *apiwire.Counters, path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
