//go:build mpi

// Command mpibench measures the all-reduce of data-parallel training over
// Open MPI: the time and bandwidth of one AllReduceSum of the gradient
// buffer of a method (every trainable parameter flattened, as package
// train exchanges it once per step), for ResNet-18 and EfficientNet-B0
// with their heads. Run it under mpirun:
//
//	go build -tags mpi -o mpibench ./bench/mpibench
//	mpirun -np 2 --mca btl self,vader ./mpibench
//
// Rank 0 prints one Markdown table row per buffer: its size, the median
// time of -reps all-reduces after a warm-up, the algorithm bandwidth
// (bytes / time) and the bus bandwidth (2(N-1)/N · bytes / time, what a
// ring all-reduce moves through each link; NCCL's convention).
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/distributed"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

func main() {
	reps := flag.Int("reps", 10, "timed all-reduces per buffer")
	flag.Parse()
	if err := run(*reps); err != nil {
		fmt.Fprintln(os.Stderr, "mpibench:", err)
		os.Exit(1)
	}
}

func params(parts train.Parts) int {
	n := 0
	for _, p := range parts.Trainable() {
		n += p.Numel()
	}
	return n
}

func run(reps int) error {
	c, err := distributed.Open(distributed.Options{Force: true, Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer c.Close()
	bb := func(name string) backbone.Backbone {
		b, err := backbone.New(name, backbone.Config{NoInit: true})
		if err != nil {
			panic(err)
		}
		return b
	}
	cases := []struct {
		name string
		n    int
	}{
		{"SimSiam, ResNet-18", params(ssl.NewSimSiam(bb("resnet18"), 1).Parts())},
		{"SimCLR, ResNet-18", params(ssl.NewSimCLR(bb("resnet18"), 1).Parts())},
		{"SimSiam, EfficientNet-B0", params(ssl.NewSimSiam(bb("efficientnet_b0"), 1).Parts())},
		{"DiSiam, EfficientNet-B0 + ResNet-18 assistant", params(ssl.NewDiSiam(bb("efficientnet_b0"), bb("resnet18"), 1).Parts())},
	}
	if c.Rank() == 0 {
		fmt.Printf("%d ranks\n\n", c.Size())
		fmt.Println("| gradient buffer | parameters | MB | median ms | algorithm GB/s | bus GB/s |")
		fmt.Println("|---|---:|---:|---:|---:|---:|")
	}
	for _, tc := range cases {
		buf := make([]float32, tc.n)
		for i := range buf {
			buf[i] = float32(i%7) * 0.5
		}
		if err := c.AllReduceSum(buf); err != nil { // warm-up
			return err
		}
		times := make([]float64, reps)
		for k := range reps {
			if err := c.Barrier(); err != nil {
				return err
			}
			start := time.Now()
			if err := c.AllReduceSum(buf); err != nil {
				return err
			}
			times[k] = time.Since(start).Seconds()
		}
		slices.Sort(times)
		med := times[reps/2]
		bytes := 4 * float64(tc.n)
		n := float64(c.Size())
		if c.Rank() == 0 {
			fmt.Printf("| %s | %d | %.1f | %.1f | %.2f | %.2f |\n", tc.name, tc.n, bytes/1e6, med*1e3, bytes/med/1e9, 2*(n-1)/n*bytes/med/1e9)
		}
	}
	return nil
}
