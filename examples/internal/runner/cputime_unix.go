//go:build unix

package runner

import (
	"syscall"
	"time"
)

// CPUTime returns the user plus system CPU time the process has used, the
// measure of a run's cost that other jobs on the machine hardly change; 0
// where the system does not say.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
