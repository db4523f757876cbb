package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/probe/probecli"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// newProbeCmd wires probecli, which fpmdoctor-probe runs too: the flags,
// help and runner are defined once there.
func newProbeCmd() *cobra.Command {
	var f probecli.Flags
	cmd := &cobra.Command{
		Use:   "probe TARGET",
		Short: probecli.Short,
		Long:  probecli.Long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := probecli.Run(cmd.Context(), args[0], f, cmd.Flags().Changed, probecli.Env{
				Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), Resolve: resolveTarget, Prog: "fpmdoctor",
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	f.Register(cmd.Flags())
	return cmd
}

// resolveTarget turns the TARGET argument into an address: an address as
// written (unix:/path, /path, host:port, [v6]:port), else a pool name or an
// nginx upstream name found by discovering the host's configs. For a pool,
// its ping.path, ping.response and pm.status_path fill the flags not given.
func resolveTarget(ctx context.Context, raw string, f *probecli.Flags, changed func(string) bool) (probe.Target, error) {
	t, err := probe.ParseTarget(raw)
	if err == nil {
		return t, nil
	}
	s, gerr := snapshot.Gather(ctx, snapshot.Options{NoProbe: true})
	if gerr != nil {
		return probe.Target{}, fmt.Errorf("%q is not an address, and looking it up as a pool failed: %w", raw, gerr)
	}
	var matches []*snapshot.Pool
	for _, fpm := range s.FPM {
		for _, p := range fpm.Pools {
			if strings.EqualFold(p.Name, raw) && p.ListenErr == nil {
				matches = append(matches, p)
			}
		}
	}
	switch {
	case len(matches) == 1:
		p := matches[0]
		if !changed("ping-path") {
			f.PingPath = p.Pool.Value("ping.path")
		}
		if !changed("ping-response") && p.Pool.Value("ping.response") != "" {
			f.PingResponse = p.Pool.Value("ping.response")
		}
		if !changed("status-path") {
			f.StatusPath = p.Pool.Value("pm.status_path")
		}
		return probe.ParseTarget(p.NginxAddress())
	case len(matches) > 1:
		var ids []string
		for _, p := range matches {
			ids = append(ids, p.ID())
		}
		return probe.Target{}, fmt.Errorf("pool %q is defined by several php-fpm configs (%s): pass its listen address", raw, strings.Join(ids, "; "))
	}
	for _, n := range s.Nginx {
		if n.Model == nil {
			continue
		}
		if u := n.Model.Upstream(raw); u != nil && len(u.Servers) > 0 {
			return probe.ParseTarget(u.Servers[0].Target.Address())
		}
	}
	return probe.Target{}, fmt.Errorf("%q is not an address (unix:/path, /path, host:port) and no pool or nginx upstream has that name", raw)
}
