package optim_test

import (
	"math"
	"testing"

	"github.com/disiam/disiam/optim"
)

func TestSchedules(t *testing.T) {
	const tol = 1e-15
	cases := []struct {
		name string
		s    optim.Schedule
		k    int
		want float64
	}{
		{"constant", optim.Constant(0.3), 17, 0.3},
		{"cosine/start", optim.Cosine{Base: 0.06, Steps: 800}, 0, 0.06},
		{"cosine/quarter", optim.Cosine{Base: 0.06, Steps: 800}, 200, 0.06 * 0.5 * (1 + math.Sqrt(0.5))},
		{"cosine/half", optim.Cosine{Base: 0.06, Steps: 800}, 400, 0.03},
		{"cosine/last", optim.Cosine{Base: 0.06, Steps: 800}, 799, 0.06 * 0.5 * (1 + math.Cos(math.Pi*799/800))},
		{"cosine/end", optim.Cosine{Base: 0.06, Steps: 800}, 800, 0},
		{"cosine/after", optim.Cosine{Base: 0.06, Steps: 800}, 900, 0},
		{"warmup/first", optim.WarmupCosine{Base: 2.4, Warmup: 10, Steps: 100}, 0, 0.24},
		{"warmup/middle", optim.WarmupCosine{Base: 2.4, Warmup: 10, Steps: 100}, 4, 1.2},
		{"warmup/last", optim.WarmupCosine{Base: 2.4, Warmup: 10, Steps: 100}, 9, 2.4},
		{"warmup/cosine start", optim.WarmupCosine{Base: 2.4, Warmup: 10, Steps: 100}, 10, 2.4},
		{"warmup/cosine half", optim.WarmupCosine{Base: 2.4, Warmup: 10, Steps: 100}, 55, 1.2},
		{"warmup/end", optim.WarmupCosine{Base: 2.4, Warmup: 10, Steps: 100}, 100, 0},
		{"warmup/none", optim.WarmupCosine{Base: 1, Warmup: 0, Steps: 4}, 2, 0.5},
		{"per epoch/first step", optim.PerEpoch{Schedule: optim.Cosine{Base: 1, Steps: 4}, StepsPerEpoch: 10}, 0, 1},
		{"per epoch/inside epoch 0", optim.PerEpoch{Schedule: optim.Cosine{Base: 1, Steps: 4}, StepsPerEpoch: 10}, 9, 1},
		{"per epoch/epoch 2", optim.PerEpoch{Schedule: optim.Cosine{Base: 1, Steps: 4}, StepsPerEpoch: 10}, 20, 0.5},
		{"momentum/start", optim.MomentumSchedule{Base: 0.99, Steps: 1000}, 0, 0.99},
		{"momentum/half", optim.MomentumSchedule{Base: 0.99, Steps: 1000}, 500, 0.995},
		{"momentum/end", optim.MomentumSchedule{Base: 0.996, Steps: 1000}, 1000, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.At(tc.k); math.Abs(got-tc.want) > tol*math.Max(1, math.Abs(tc.want)) {
				t.Fatalf("At(%d) = %.17g, want %.17g", tc.k, got, tc.want)
			}
		})
	}
}

// Schedules are monotone where they should be.
func TestScheduleMonotone(t *testing.T) {
	cases := []struct {
		name       string
		s          optim.Schedule
		from, to   int
		increasing bool
	}{
		{"cosine", optim.Cosine{Base: 0.1, Steps: 50}, 0, 50, false},
		{"warmup", optim.WarmupCosine{Base: 0.1, Warmup: 10, Steps: 50}, 0, 10, true},
		{"warmup decay", optim.WarmupCosine{Base: 0.1, Warmup: 10, Steps: 50}, 9, 50, false},
		{"momentum", optim.MomentumSchedule{Base: 0.99, Steps: 50}, 0, 50, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev := tc.s.At(tc.from)
			for k := tc.from + 1; k <= tc.to; k++ {
				v := tc.s.At(k)
				if (tc.increasing && v < prev) || (!tc.increasing && v > prev) {
					t.Fatalf("At(%d) = %v after %v", k, v, prev)
				}
				prev = v
			}
		})
	}
}

func TestLRScaling(t *testing.T) {
	cases := []struct {
		name string
		got  float64
		want float64
	}{
		{"linear 256", optim.LinearScaledLR(optim.SimSiamBaseLR, 256), 0.03},
		{"linear 1024", optim.LinearScaledLR(optim.SimSiamBaseLR, 1024), 0.12},
		{"linear 64", optim.LinearScaledLR(0.06, 64), 0.015},
		{"sqrt 1024", optim.SqrtScaledLR(optim.SimCLRBaseLR, 1024), 2.4},
		{"sqrt 256", optim.SqrtScaledLR(optim.SimCLRBaseLR, 256), 1.2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if math.Abs(tc.got-tc.want) > 1e-15 {
				t.Fatalf("got %.17g, want %.17g", tc.got, tc.want)
			}
		})
	}
}

func TestSchedulePanics(t *testing.T) {
	cases := []struct {
		name string
		s    optim.Schedule
	}{
		{"cosine steps 0", optim.Cosine{Base: 1}},
		{"warmup ≥ steps", optim.WarmupCosine{Base: 1, Warmup: 5, Steps: 5}},
		{"per epoch 0", optim.PerEpoch{Schedule: optim.Constant(1)}},
		{"momentum steps 0", optim.MomentumSchedule{Base: 0.99}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.s.At(0)
		})
	}
}
