//go:build mpi

package distributed

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// mpiComm opens MPI's world, or skips outside mpirun: run these tests as
//
//	go test -c -tags mpi -o dist.test ./distributed
//	mpirun -np 2 ./dist.test -test.run MPI
func openWorld(t *testing.T) Comm {
	t.Helper()
	l, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if l.Launcher == "" {
		t.Skip("not started by mpirun")
	}
	c, err := Open(Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var world Comm

func TestMain(m *testing.M) {
	code := m.Run()
	if world != nil {
		world.Close()
	}
	os.Exit(code)
}

func TestMPICollectives(t *testing.T) {
	c := openWorld(t)
	world = c
	if err := checkCollectives(c); err != nil {
		t.Fatal(err)
	}
}

func TestMPIMismatch(t *testing.T) {
	if world == nil {
		t.Skip("needs TestMPICollectives first")
	}
	c := world
	if c.Size() < 2 {
		t.Skip("needs 2 ranks")
	}
	err := c.AllReduceSum(make([]float32, 10+c.Rank()))
	if err == nil || !strings.Contains(err.Error(), "same lengths") {
		t.Fatalf("mismatched lengths: %v", err)
	}
	if err2 := c.Barrier(); !errors.Is(err2, err) && err2.Error() != err.Error() {
		t.Fatalf("a broken comm: %v", err2)
	}
}
