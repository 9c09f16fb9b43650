package main

import (
	"net/http"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func countersCmd(o *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "counters",
		Short: "Show the counters of every worker core and server",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st apiwire.Counters
			err := call(cmd, o, http.MethodGet, "/v1/counters", nil, nil, &st, nil)
			if err == nil && o.output == "table" {
				st.Print(cmd.OutOrStdout())
			}
			return err
		},
	}
}
