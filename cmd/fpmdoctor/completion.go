package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/docs"
)

// formats lists a command's --format values for shell completion.
func formats(command string) []string {
	switch command {
	case "diagnose", "fpmdoctor": // bare fpmdoctor is diagnose
		return []string{"text", "json", "sarif"}
	}
	return []string{"text", "json"}
}

// addCompletions makes cobra's generated shell completions (`fpmdoctor
// completion bash|zsh|fish`, shipped in the packages) useful: no command
// takes a file argument, so the shell never offers files for them;
// explain offers the causes, --format its values and --root directories.
// It walks the finished tree, so a command added later gets the same
// without remembering to.
func addCompletions(c *cobra.Command) {
	switch {
	case c.Name() == "explain":
		c.ValidArgsFunction = completeCauses
	case c.ValidArgsFunction == nil && len(c.ValidArgs) == 0:
		c.ValidArgsFunction = cobra.NoFileCompletions
	}
	if c.Flags().Lookup("format") != nil {
		_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(formats(c.Name()), cobra.ShellCompDirectiveNoFileComp))
	}
	if c.Flags().Lookup("root") != nil {
		_ = c.MarkFlagDirname("root")
	}
	for _, sub := range c.Commands() {
		addCompletions(sub)
	}
}

func completeCauses(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, c := range docs.Causes() {
		if strings.HasPrefix(c, toComplete) {
			out = append(out, cobra.CompletionWithDesc(c, docs.Title(c)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
