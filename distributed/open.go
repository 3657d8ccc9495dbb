package distributed

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Launch is what the environment says about the process's place in a
// parallel job.
type Launch struct {
	// Rank and Size are the process's rank and the number of processes.
	Rank, Size int
	// Launcher names the variables they came from: "Open MPI" (mpirun,
	// and Kubeflow's MPIJob, which runs mpirun), "PMIx" (srun
	// --mpi=pmix), "PMI" (MPICH's and Slurm's PMI-1/2), "Slurm" (srun
	// without an MPI plugin), or "" outside any job.
	Launcher string
}

// envPairs lists the launchers' rank and size variables, the most
// specific first.
var envPairs = []struct{ launcher, rank, size string }{
	{"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
	{"PMIx", "PMIX_RANK", "PMIX_SIZE"},
	{"PMI", "PMI_RANK", "PMI_SIZE"},
	{"Slurm", "SLURM_PROCID", "SLURM_NTASKS"},
}

// FromEnv reads the rank and the number of processes from the variables
// mpirun, srun and the PMI libraries set; outside a job it returns rank 0
// of 1 and Launcher "". A variable that is set but not a valid number is
// an error naming it.
func FromEnv() (Launch, error) {
	for _, p := range envPairs {
		rs, ok := os.LookupEnv(p.rank)
		if !ok {
			continue
		}
		ss, ok := os.LookupEnv(p.size)
		if !ok {
			if p.launcher == "PMIx" { // PMIx sets no size variable; MPI knows it
				ss = "0"
			} else {
				continue
			}
		}
		r, err1 := strconv.Atoi(rs)
		s, err2 := strconv.Atoi(ss)
		if err1 != nil || err2 != nil || r < 0 || s < 0 || (s > 0 && r >= s) {
			return Launch{}, fmt.Errorf("distributed: %s=%q, %s=%q: not a rank of the job", p.rank, rs, p.size, ss)
		}
		return Launch{Rank: r, Size: s, Launcher: p.launcher}, nil
	}
	return Launch{Size: 1}, nil
}

// Options configures Open.
type Options struct {
	// Timeout bounds every collective's wait for the other ranks (0:
	// DefaultTimeout). It must exceed the longest time one rank works
	// alone: rank 0's evaluation and checkpoint writing.
	Timeout time.Duration
	// Force opens MPI even when the environment shows no launcher (a
	// singleton MPI process).
	Force bool
}

// Open returns the communicator of this process: MPI's world when the
// process was started by mpirun or srun (or opts.Force) in a build with
// -tags mpi; Local (rank 0 of 1) when it was started alone. A process
// started as one of several ranks by a build without MPI gets an error,
// not a silent single-process run.
func Open(opts Options) (Comm, error) {
	l, err := FromEnv()
	if err != nil {
		return nil, err
	}
	if l.Launcher == "" && !opts.Force {
		return Local{}, nil
	}
	if !MPIAvailable && l.Size == 1 && !opts.Force {
		return Local{}, nil
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := openMPI(timeout)
	if err != nil {
		if l.Launcher != "" {
			return nil, fmt.Errorf("%w (%s launched rank %d of %d)", err, l.Launcher, l.Rank, l.Size)
		}
		return nil, err
	}
	return c, nil
}
