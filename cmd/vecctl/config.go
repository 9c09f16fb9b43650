package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func configCmd(o *globalOptions) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Show, save or reload vecd's configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Show the configuration in force (with changes not yet saved) as YAML",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r apiwire.ConfigReply
			return call(cmd, o, http.MethodGet, "/v1/config", nil, nil, &r, func(w io.Writer) {
				fmt.Fprintf(w, "# generation %d\n%s", r.Generation, r.YAML)
			})
		},
	}, &cobra.Command{
		Use:   "save",
		Short: "Write the configuration in force to vecd's configuration file (its comments are lost)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r apiwire.SaveReply
			return call(cmd, o, http.MethodPost, "/v1/config/save", nil, nil, &r, func(w io.Writer) {
				fmt.Fprintf(w, "generation %d saved to %s\n", r.Generation, r.File)
			})
		},
	}, &cobra.Command{
		Use:   "reload",
		Short: "Replace the configuration in force with vecd's configuration file (unsaved changes are lost)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return change(cmd, o, http.MethodPost, "/v1/config/reload", nil)
		},
	})
	return c
}
