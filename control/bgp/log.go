package bgp

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// zapLogger writes GoBGP's log through vecd's zap logger, so that
// log.level governs it too.
type zapLogger struct{ l *zap.Logger }

func (z zapLogger) fields(f gobgplog.Fields) []zap.Field {
	out := make([]zap.Field, 0, len(f))
	for k, v := range f {
		out = append(out, zap.Any(k, v))
	}
	return out
}

func (z zapLogger) Panic(msg string, f gobgplog.Fields) { z.l.Panic(msg, z.fields(f)...) }
func (z zapLogger) Fatal(msg string, f gobgplog.Fields) { z.l.Fatal(msg, z.fields(f)...) }
func (z zapLogger) Error(msg string, f gobgplog.Fields) { z.l.Error(msg, z.fields(f)...) }
func (z zapLogger) Warn(msg string, f gobgplog.Fields)  { z.l.Warn(msg, z.fields(f)...) }
func (z zapLogger) Info(msg string, f gobgplog.Fields)  { z.l.Info(msg, z.fields(f)...) }
func (z zapLogger) Debug(msg string, f gobgplog.Fields) { z.l.Debug(msg, z.fields(f)...) }

// SetLevel ignores GoBGP's request: vecd's log.level (the zap logger's
// level, changed at run time by the manager) is the one setting.
func (z zapLogger) SetLevel(gobgplog.LogLevel) {}

// GetLevel reports the zap logger's level, so that GoBGP skips building
// the debug messages that would be dropped.
func (z zapLogger) GetLevel() gobgplog.LogLevel {
	core := z.l.Core()
	switch {
	case core.Enabled(zapcore.DebugLevel):
		return gobgplog.DebugLevel
	case core.Enabled(zapcore.InfoLevel):
		return gobgplog.InfoLevel
	case core.Enabled(zapcore.WarnLevel):
		return gobgplog.WarnLevel
	}
	return gobgplog.ErrorLevel
}
