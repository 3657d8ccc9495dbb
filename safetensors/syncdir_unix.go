//go:build unix

package safetensors

import (
	"errors"
	"os"
	"syscall"
)

// syncDir flushes dir's entries (a rename into it) to stable storage.
// File systems that cannot sync a directory (EINVAL, ENOTSUP) are not an
// error: there is nothing more to do on them.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
