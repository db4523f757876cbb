package checks_test

import (
	"os"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/probe"
)

func TestMain(m *testing.M) {
	// diagnose probes unix sockets as nginx's worker user by re-executing
	// this binary as a connect helper; in that role it must not run tests.
	probe.MaybeRunConnectHelper()
	os.Exit(m.Run())
}
