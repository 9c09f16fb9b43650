package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"vec/control/apiwire"
)

func logCmd(o *globalOptions) *cobra.Command {
	return nounCmd("log", "Show or change vecd's log level", &cobra.Command{
		Use:       "level [debug|info|warn|error]",
		Short:     "Show the log level, or change it at once",
		Args:      rangeArgs(0, 1),
		ValidArgs: []string{"debug", "info", "warn", "error"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				var l apiwire.LogLevel
				return call(cmd, o, http.MethodGet, "/v1/log/level", nil, nil, &l, func(w io.Writer) { fmt.Fprintln(w, l.Level) })
			}
			return change(cmd, o, http.MethodPut, "/v1/log/level", apiwire.LogLevel{Level: args[0]})
		},
	})
}
