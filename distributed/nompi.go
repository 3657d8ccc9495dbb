//go:build !mpi

package distributed

import (
	"errors"
	"time"
)

// MPIAvailable reports whether this build can open an MPI communicator
// (it was built with -tags mpi).
const MPIAvailable = false

func openMPI(time.Duration) (Comm, error) {
	return nil, errors.New("distributed: this program was built without MPI; rebuild it with -tags mpi (and Open MPI's libopenmpi-dev installed)")
}
