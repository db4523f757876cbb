//go:build race

package follow

// raceEnabled: the race detector allocates on its own.
const raceEnabled = true
