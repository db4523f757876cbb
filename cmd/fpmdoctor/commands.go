package main

import "github.com/spf13/cobra"

// subcommands lists every command; each lives in its own file.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		newCheckCmd(),
		newExplainCmd(),
		newFixCmd(),
		newLabCmd(),
		newProbeCmd(),
		newTuneCmd(),
		newVersionCmd(),
		newWatchCmd(),
	}
}
