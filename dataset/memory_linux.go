package dataset

import (
	"math"
	"syscall"
)

// physicalMemory returns the machine's total RAM in bytes, or 0 when it is
// unknown.
func physicalMemory() int {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 0
	}
	total := uint64(info.Totalram) * uint64(max(info.Unit, 1))
	if total > math.MaxInt {
		return math.MaxInt
	}
	return int(total)
}
