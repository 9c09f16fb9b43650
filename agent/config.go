package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/viper"
	"go.uber.org/zap/zapcore"

	"vec/agent/auth"
	"vec/agent/metrics"
	"vec/agent/wire"
	"vec/internal/strictyaml"
)

// Config is the agent's configuration (configs/vec-agent.yaml documents
// every key).
type Config struct {
	// Name identifies this agent to the gateways: it must equal the name
	// the gateway configuration gives this server's agent.
	Name string `mapstructure:"name"`
	// Listen is the address of the HTTP listener, host:port.
	Listen string `mapstructure:"listen"`
	// VIPs are the cluster addresses this server carries on its loopback.
	VIPs []string `mapstructure:"vips"`
	// DropCapabilities empties every capability set after the listener is
	// open (on by default; listing sockets needs none).
	DropCapabilities bool `mapstructure:"drop_capabilities"`
	// User is the account the agent switches to when it is started as
	// root, as it drops its capabilities (a user name or uid; "" keeps
	// uid 0, still without capabilities). Nothing it does once serving
	// needs root.
	User     string        `mapstructure:"user"`
	LogLevel string        `mapstructure:"log_level"`
	Auth     AuthConfig    `mapstructure:"auth"`
	Limits   LimitsConfig  `mapstructure:"limits"`
	Metrics  MetricsConfig `mapstructure:"metrics"`
	Witness  WitnessConfig `mapstructure:"witness"`
}

// AuthConfig holds the request authentication settings.
type AuthConfig struct {
	// KeyFiles hold the accepted shared keys in hex, one per file: the
	// current one, plus the next or previous during a key rotation.
	KeyFiles []string `mapstructure:"key_files"`
	// MaxClockSkew is how far a request's timestamp may be from this host's
	// clock.
	MaxClockSkew time.Duration `mapstructure:"max_clock_skew"`
}

// LimitsConfig caps one page of a connections reply.
type LimitsConfig struct {
	MaxEntriesPerPage int `mapstructure:"max_entries_per_page"`
	MaxReplyBytes     int `mapstructure:"max_reply_bytes"`
}

// MetricsConfig configures the host metrics.
type MetricsConfig struct {
	CPUInterval time.Duration  `mapstructure:"cpu_interval"`
	Scripts     []ScriptConfig `mapstructure:"scripts"`
}

// WitnessConfig configures the agent's part in the gateways' split-brain
// protection (lease requests, wire.PathLease).
type WitnessConfig struct {
	// MaxLease caps the lease granted to a gateway; it is also the quiet
	// period after start, during which no lease is granted (one granted
	// before a restart may still be live).
	MaxLease time.Duration `mapstructure:"max_lease"`
}

// ScriptConfig is one operator-defined metric.
type ScriptConfig struct {
	Name string `mapstructure:"name"`
	// Command is the program and its arguments (no shell).
	Command  []string      `mapstructure:"command"`
	Interval time.Duration `mapstructure:"interval"`
	Timeout  time.Duration `mapstructure:"timeout"`
}

// Defaults.
const (
	DefaultListen         = ":10004" // IBM's Metric Server port
	DefaultUser           = "nobody"
	DefaultCPUInterval    = 5 * time.Second
	DefaultScriptInterval = 30 * time.Second
	DefaultScriptTimeout  = 5 * time.Second
	// MaxScripts bounds the custom metrics (and so the metrics reply size).
	MaxScripts = 256
)

var metricName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// MaxConfigFileSize bounds the configuration file, so that a wrong path (a
// log file, a disk image) is not read into memory.
const MaxConfigFileSize = 1 << 20

// LoadConfig reads the YAML file at path (no file: defaults only) with the
// strict decoder vecd uses (internal/strictyaml): unknown or misspelt keys,
// a value of the wrong type ("30" for a number) and a duration without a
// unit are errors naming the field path. The result still needs Validate,
// after any command-line overrides.
func LoadConfig(path string) (Config, error) {
	v := viper.New()
	v.SetDefault("listen", DefaultListen)
	v.SetDefault("drop_capabilities", true)
	v.SetDefault("user", DefaultUser)
	v.SetDefault("log_level", "info")
	v.SetDefault("auth.max_clock_skew", auth.DefaultMaxSkew)
	v.SetDefault("limits.max_entries_per_page", wire.DefaultMaxEntries)
	v.SetDefault("limits.max_reply_bytes", wire.DefaultMaxBytes)
	v.SetDefault("metrics.cpu_interval", DefaultCPUInterval)
	v.SetDefault("witness.max_lease", DefaultMaxLease)
	var data []byte
	if path != "" {
		var err error
		if data, err = readConfigFile(path); err != nil {
			return Config{}, err
		}
	}
	var cfg Config
	if err := strictyaml.Decode(data, v, &cfg, decodeOptions); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	for i := range cfg.Metrics.Scripts {
		s := &cfg.Metrics.Scripts[i]
		if s.Interval == 0 {
			s.Interval = DefaultScriptInterval
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultScriptTimeout
		}
	}
	return cfg, nil
}

var decodeOptions = strictyaml.Options{
	Program:      "vec-agent",
	Sections:     "name:, listen:, vips:, auth:, …",
	FieldExample: "max_clock_skew",
}

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(data) > MaxConfigFileSize {
		return nil, fmt.Errorf("config %s: file is larger than %d bytes", path, MaxConfigFileSize)
	}
	return data, nil
}

// Validate checks the whole configuration and reports every problem.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Name == "" {
		bad("name: required (the name the gateways know this agent by)")
	} else if !validName(c.Name) {
		bad("name %q: only letters, digits and ._:-[] allowed", c.Name)
	}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: %v", c.Listen, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		bad("listen %q: port: %v", c.Listen, err)
	} else if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			bad("listen %q: host must be an IP address: %v", c.Listen, err)
		}
	}
	if _, err := c.ParsedVIPs(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Auth.KeyFiles) == 0 {
		bad("auth.key_files: at least one key file is required")
	}
	if c.Auth.MaxClockSkew <= 0 || c.Auth.MaxClockSkew > 10*time.Minute {
		bad("auth.max_clock_skew %s: want (0, 10m]", c.Auth.MaxClockSkew)
	}
	if n := c.Limits.MaxEntriesPerPage; n <= 0 || n > wire.LimitMaxEntries {
		bad("limits.max_entries_per_page %d: want 1..%d", n, wire.LimitMaxEntries)
	}
	if n := c.Limits.MaxReplyBytes; n < wire.MinMaxBytes || n > wire.LimitMaxBytes {
		bad("limits.max_reply_bytes %d: want %d..%d", n, wire.MinMaxBytes, wire.LimitMaxBytes)
	}
	if c.Metrics.CPUInterval < 100*time.Millisecond {
		bad("metrics.cpu_interval %s: want at least 100ms", c.Metrics.CPUInterval)
	}
	if len(c.Metrics.Scripts) > MaxScripts {
		bad("metrics.scripts: %d scripts, at most %d", len(c.Metrics.Scripts), MaxScripts)
	}
	names := map[string]bool{}
	for i, s := range c.Metrics.Scripts {
		where := fmt.Sprintf("metrics.scripts[%d] (%s)", i, s.Name)
		if !metricName.MatchString(s.Name) {
			bad("%s: name must match %s", where, metricName)
		}
		if names[s.Name] {
			bad("%s: duplicate name", where)
		}
		names[s.Name] = true
		if len(s.Command) == 0 || s.Command[0] == "" {
			bad("%s: command is required", where)
		}
		if s.Timeout <= 0 || s.Interval < s.Timeout {
			bad("%s: want 0 < timeout (%s) <= interval (%s)", where, s.Timeout, s.Interval)
		}
	}
	if c.Witness.MaxLease <= 0 || c.Witness.MaxLease > LimitMaxLease {
		bad("witness.max_lease %s: want (0, %s]", c.Witness.MaxLease, LimitMaxLease)
	}
	if _, err := zapcore.ParseLevel(c.LogLevel); err != nil {
		bad("log_level: %v", err)
	}
	return errors.Join(errs...)
}

// ParsedVIPs returns the VIPs as addresses.
func (c Config) ParsedVIPs() ([]netip.Addr, error) {
	if len(c.VIPs) == 0 {
		return nil, errors.New("vips: at least one VIP is required")
	}
	if len(c.VIPs) > wire.MaxRequestVIPs {
		return nil, fmt.Errorf("vips: %d VIPs, at most %d", len(c.VIPs), wire.MaxRequestVIPs)
	}
	seen := map[netip.Addr]bool{}
	out := make([]netip.Addr, 0, len(c.VIPs))
	for _, s := range c.VIPs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("vips: %w", err)
		}
		a = a.Unmap()
		if a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return nil, fmt.Errorf("vips: %s is not a unicast address", s)
		}
		if seen[a] {
			return nil, fmt.Errorf("vips: %s listed twice", s)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

// MetricScripts converts the script configuration.
func (c Config) MetricScripts() []metrics.Script {
	out := make([]metrics.Script, len(c.Metrics.Scripts))
	for i, s := range c.Metrics.Scripts {
		out[i] = metrics.Script{Name: s.Name, Command: s.Command, Interval: s.Interval, Timeout: s.Timeout}
	}
	return out
}

func validName(s string) bool {
	if len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == ':' || r == '-' || r == '[' || r == ']') {
			return false
		}
	}
	return true
}
