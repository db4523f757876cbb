package main

import (
	"bytes"
	"testing"
)

// TestLeanCommandsAsInFullTree: probe and diagnose, built alone to start
// fast (leanCommand), print the same help and the same usage errors as in
// the full command tree.
func TestLeanCommandsAsInFullTree(t *testing.T) {
	for _, args := range [][]string{
		{"probe", "--help"}, {"probe"}, {"probe", "a", "b"}, {"probe", "--bogus", "x"},
		{"probe", "/nonexistent/fpmdoctor-test.sock", "--format", "yaml"},
		{"diagnose", "--help"}, {"diagnose", "--bogus"}, {"diagnose", "extra"},
	} {
		if _, ok := leanCommand(args[0]); !ok {
			t.Fatalf("%s is not a lean command", args[0])
		}
		exec := func(full bool) (string, error) {
			tree := args
			if full {
				tree = nil
			}
			root := newRootCmd(tree)
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(args)
			err := root.Execute()
			return out.String(), err
		}
		lean, leanErr := exec(false)
		full, fullErr := exec(true)
		if lean != full || (leanErr == nil) != (fullErr == nil) || leanErr != nil && leanErr.Error() != fullErr.Error() {
			t.Errorf("%q: lean tree printed %q (error %v), full tree %q (error %v)", args, lean, leanErr, full, fullErr)
		}
		if lean == "" && leanErr == nil {
			t.Errorf("%q printed nothing and did not fail", args)
		}
	}
}
