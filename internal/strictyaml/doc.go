// Package strictyaml decodes a YAML configuration file into a Go struct
// strictly: every mapping key must be a known lower-case snake_case field
// (checked on the YAML tree, since viper folds case and reads dotted keys as
// nested ones), no weak typing ("30" is not a number), durations need a
// unit, integers must be whole and fit, and every error names the field path
// ("metrics.scripts[1].timeout"). It is the decoder of vecd's configuration
// (control/config) factored out, so that vec-agent decodes the same way.
package strictyaml
