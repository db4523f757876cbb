//go:build !gendocs

package main

import "github.com/spf13/cobra"

// buildCommands adds nothing to the shipped binary; see gendocs.go.
func buildCommands(*cobra.Command) {}
