package agent

import (
	"errors"
	"fmt"

	"vec/agent/auth"
	"vec/internal/strictyaml"
)

// CheckConfigFile is vec-agent --check-config: it decodes and validates the
// file at path as the agent does at start-up, without starting, and
// returns every problem found, each beginning with the field it concerns.
// With openFiles it also reads the key files (as Run does, ownership and
// mode checks included) and, when the agent would switch to cfg.User,
// looks that user up. err is set only when the file cannot be read at all.
func CheckConfigFile(path string, openFiles bool) (problems []string, err error) {
	if path == "" {
		return nil, errors.New("no configuration file named")
	}
	cfg, err := LoadConfig(path)
	var serr *strictyaml.Error
	switch {
	case errors.As(err, &serr):
		for _, p := range serr.Problems {
			problems = append(problems, p.String())
		}
		return problems, nil
	case err != nil:
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		for _, e := range unjoin(err) {
			problems = append(problems, e.Error())
		}
		return problems, nil
	}
	if !openFiles {
		return nil, nil
	}
	for i, path := range cfg.Auth.KeyFiles {
		if _, err := auth.LoadKeyFile(path); err != nil {
			problems = append(problems, fmt.Sprintf("auth.key_files[%d]: %v", i, err))
		}
	}
	// Run looks the user up when, started as root, it will switch to it:
	// the check looks it up whoever runs it, to cover that start.
	if cfg.DropCapabilities && cfg.User != "" {
		if _, err := lookupUser(cfg.User); err != nil {
			problems = append(problems, fmt.Sprintf("user: %v", err))
		}
	}
	return problems, nil
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
