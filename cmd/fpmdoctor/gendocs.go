//go:build gendocs

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/fpmdoctor/fpmdoctor/internal/version"
	"github.com/fpmdoctor/fpmdoctor/internal/watchcmd"
)

// buildCommands adds the hidden `gen-docs` command to binaries built with
// -tags gendocs (scripts/package does). The shipped binary leaves it out:
// cobra/doc brings go-md2man and blackfriday (0.6 MB on a 14.8 MB stripped
// binary here), which nobody needs on a server, while a separate program
// could not reach this package's command tree.
func buildCommands(root *cobra.Command) {
	var man string
	cmd := &cobra.Command{
		Use:    "gen-docs --man DIR",
		Short:  "Write man pages generated from the command tree",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if man == "" {
				return fmt.Errorf("gen-docs: --man DIR is required")
			}
			if err := os.MkdirAll(man, 0o755); err != nil {
				return fmt.Errorf("gen-docs: %w", err)
			}
			hdr := &doc.GenManHeader{Title: "FPMDOCTOR", Section: "1", Source: "fpmdoctor " + version.Short(), Manual: "fpmdoctor manual"}
			// The date is SOURCE_DATE_EPOCH's when set (scripts/package
			// sets the commit's), so one commit gives identical pages.
			root.DisableAutoGenTag = true
			// The watch page documents fpmdoctor-watch's own flags, not
			// the stub that runs it.
			for _, c := range root.Commands() {
				if c.Name() == "watch" {
					root.RemoveCommand(c)
					w := watchcmd.New()
					w.Use = "watch"
					root.AddCommand(w)
				}
			}
			if err := doc.GenManTree(root, hdr, man); err != nil {
				return fmt.Errorf("gen-docs: write man pages to %s: %w", man, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&man, "man", "", "write section-1 man pages into `DIR`")
	root.AddCommand(cmd)
}
