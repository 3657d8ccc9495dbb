//go:build race

package nn_test

// convRace is whether the race detector is on: the largest convolution
// case, which checks chunk arithmetic rather than concurrency, then
// stays out (it would take tens of seconds).
const convRace = true
