package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/docs"
)

func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain [CAUSE]",
		Short: "Explain a cause: what you see, why, the fix, how to prevent it",
		Long:  "explain prints the documentation page of a cause. Without an argument it lists the causes.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				for _, c := range docs.Causes() {
					fmt.Fprintf(os.Stdout, "%-22s %s\n", c, docs.Title(c))
				}
				return nil
			}
			page, ok := docs.Cause(args[0])
			if !ok {
				return fmt.Errorf("unknown cause %q; known causes: %s", args[0], strings.Join(docs.Causes(), ", "))
			}
			_, err := fmt.Fprint(os.Stdout, page)
			return err
		},
	}
}
