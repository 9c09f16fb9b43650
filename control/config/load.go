package config

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/viper"

	"vec/internal/strictyaml"
)

// MaxFileSize bounds the configuration file. The largest configuration the
// fastpath can hold (MaxServers servers) takes well under a
// megabyte of YAML; the bound keeps a wrong path (a log file, a disk image)
// from being read into memory.
const MaxFileSize = 4 << 20

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads, decodes and validates a configuration. Errors about the
// content are *Error values listing every problem.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return ParseBytes(data)
}

// ParseBytes decodes and validates a configuration held in memory.
func ParseBytes(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{Problems: []Problem{{Message: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}}
	}
	cfg, perr := decode(data)
	if perr != nil {
		return nil, perr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decode turns YAML into a Config without validating the values, with the
// strict decoder vecd and vec-agent share (internal/strictyaml): field
// names checked on the YAML tree, one document, no silent conversions.
func decode(data []byte) (*Config, *Error) {
	var cfg Config
	err := strictyaml.Decode(data, viper.New(), &cfg, strictyaml.Options{Program: "vecd",
		Sections: "dpdk:, ports:, clusters:, …", FieldExample: "table_capacity"})
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}
