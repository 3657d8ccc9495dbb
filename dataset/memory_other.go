//go:build !linux

package dataset

// physicalMemory returns 0: the machine's memory is unknown on this
// system.
func physicalMemory() int { return 0 }
