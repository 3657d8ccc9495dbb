package distributed

import (
	"os"
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Launch
		err  string
	}{
		{"alone", nil, Launch{Rank: 0, Size: 1}, ""},
		{"mpirun", map[string]string{"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4"}, Launch{3, 4, "Open MPI"}, ""},
		{"srun pmix", map[string]string{"PMIX_RANK": "1", "SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, Launch{1, 0, "PMIx"}, ""},
		{"srun", map[string]string{"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, Launch{1, 2, "Slurm"}, ""},
		{"pmi", map[string]string{"PMI_RANK": "0", "PMI_SIZE": "8"}, Launch{0, 8, "PMI"}, ""},
		{"bad rank", map[string]string{"OMPI_COMM_WORLD_RANK": "x", "OMPI_COMM_WORLD_SIZE": "4"}, Launch{}, "OMPI_COMM_WORLD_RANK"},
		{"rank beyond size", map[string]string{"OMPI_COMM_WORLD_RANK": "4", "OMPI_COMM_WORLD_SIZE": "4"}, Launch{}, "not a rank"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range envPairs {
				t.Setenv(p.rank, "")
				t.Setenv(p.size, "")
			}
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := FromEnv()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error naming %s", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if tc.want.Launcher == "" {
				c, err := Open(Options{})
				if err != nil || c.Size() != 1 {
					t.Fatalf("Open alone: %v, %v", c, err)
				}
			}
		})
	}
}

// clearEnv unsets the launchers' variables for the test (t.Setenv
// restores them afterwards).
func clearEnv(t *testing.T) {
	for _, p := range envPairs {
		unset(t, p.rank)
		unset(t, p.size)
	}
}

// unset removes an environment variable for the rest of the test, after
// t.Setenv has recorded it for restoring.
func unset(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "")
	os.Unsetenv(k)
}
