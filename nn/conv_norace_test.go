//go:build !race

package nn_test

// convRace is whether the race detector is on (see conv_race_test.go).
const convRace = false
