package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func configCmd(o *globalOptions) *cobra.Command {
	return nounCmd("config", "Show, save or reload vecd's configuration",
		replyCmd(o, "show", "Show the configuration in force (with changes not yet saved) as YAML",
			http.MethodGet, "/v1/config", func(r *apiwire.ConfigReply) func(io.Writer) {
				return func(w io.Writer) { fmt.Fprintf(w, "# generation %d\n%s", r.Generation, r.YAML) }
			}),
		replyCmd(o, "save", "Write the configuration in force to vecd's configuration file (its comments are lost)",
			http.MethodPost, "/v1/config/save", func(r *apiwire.SaveReply) func(io.Writer) {
				return func(w io.Writer) { fmt.Fprintf(w, "generation %d saved to %s\n", r.Generation, r.File) }
			}),
		changeCmd(o, "reload", "Replace the configuration in force with vecd's configuration file (unsaved changes are lost)",
			http.MethodPost, "/v1/config/reload"))
}
