package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gridIntersection integrates the overlap of two rectangles on a fine grid.
func gridIntersection(a, b Rect, n int) float64 {
	inside := func(r Rect, x, y float64) bool {
		c, s := math.Cos(r.Angle), math.Sin(r.Angle)
		dx, dy := x-r.X, y-r.Y
		u, v := c*dx+s*dy, -s*dx+c*dy
		return math.Abs(u) <= r.L/2 && math.Abs(v) <= r.W/2
	}
	ra := math.Hypot(a.L, a.W) / 2
	x0, x1, y0, y1 := a.X-ra, a.X+ra, a.Y-ra, a.Y+ra
	hx, hy := (x1-x0)/float64(n), (y1-y0)/float64(n)
	cnt := 0
	for i := range n {
		for j := range n {
			x, y := x0+(float64(i)+0.5)*hx, y0+(float64(j)+0.5)*hy
			if inside(a, x, y) && inside(b, x, y) {
				cnt++
			}
		}
	}
	return float64(cnt) * hx * hy
}

func TestRectIntersection(t *testing.T) {
	cases := []struct {
		name string
		a, b Rect
		want float64
	}{
		{"identical", Rect{1, 2, 4, 2, 0.3}, Rect{1, 2, 4, 2, 0.3}, 8},
		{"axis-aligned shift", Rect{0, 0, 2, 2, 0}, Rect{1, 1, 2, 2, 0}, 1},
		{"square and its 45° turn", Rect{0, 0, 1, 1, 0}, Rect{0, 0, 1, 1, math.Pi / 4}, 2 * (math.Sqrt2 - 1)},
		{"disjoint", Rect{0, 0, 1, 1, 0}, Rect{3, 0, 1, 1, 1}, 0},
		{"contained", Rect{0, 0, 4, 4, 0.1}, Rect{0.2, 0.1, 1, 0.5, 1.2}, 0.5},
		{"turned by π is the same", Rect{0, 0, 4, 2, 0.3}, Rect{0, 0, 4, 2, 0.3 + math.Pi}, 8},
		{"touching edges", Rect{0, 0, 2, 2, 0}, Rect{2, 0, 2, 2, 0}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][2]Rect{{tc.a, tc.b}, {tc.b, tc.a}} {
				if got := RectIntersection(order[0], order[1]); math.Abs(got-tc.want) > 1e-12 {
					t.Errorf("intersection %v, want %v", got, tc.want)
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 30 {
		a := Rect{rng.Float64(), rng.Float64(), 0.5 + 2*rng.Float64(), 0.5 + rng.Float64(), 6 * rng.Float64()}
		b := Rect{rng.Float64(), rng.Float64(), 0.5 + 2*rng.Float64(), 0.5 + rng.Float64(), 6 * rng.Float64()}
		got, want := RectIntersection(a, b), gridIntersection(a, b, 400)
		// Grid error: about the perimeter times the cell size.
		if math.Abs(got-want) > 0.04 {
			t.Errorf("random %d: %v vs grid %v", i, got, want)
		}
		if sym := RectIntersection(b, a); math.Abs(sym-got) > 1e-12 {
			t.Errorf("random %d: not symmetric %v %v", i, got, sym)
		}
	}
}

func TestNMSBEV(t *testing.T) {
	rects := []Rect{
		{0, 0, 4, 2, 0},
		{0.2, 0, 4, 2, 0.05}, // heavy overlap with 0
		{10, 0, 4, 2, 0},
		{0, 1.9, 4, 2, 0}, // IoU with 0: 0.2/7.8
	}
	scores := []float64{0.9, 0.95, 0.5, 0.8}
	keep := NMSBEV(rects, scores, 0.5)
	want := []int{1, 3, 2}
	if len(keep) != len(want) {
		t.Fatalf("keep %v, want %v", keep, want)
	}
	for i := range want {
		if keep[i] != want[i] {
			t.Fatalf("keep %v, want %v", keep, want)
		}
	}
	if got := NMSBEV(nil, nil, 0.5); len(got) != 0 {
		t.Errorf("empty input kept %v", got)
	}
}

func TestIoU3D(t *testing.T) {
	a := Object{Center: [3]float64{1, 1, 10}, Size: [3]float64{4, 1.5, 2}, Yaw: 0.4}
	if v := IoU3D(a, a); math.Abs(v-1) > 1e-12 {
		t.Errorf("self IoU %v", v)
	}
	b := a
	b.Center[1] += 0.75 // half the height: intersection 1/2, union 3/2
	if v := IoU3D(a, b); math.Abs(v-1.0/3) > 1e-12 {
		t.Errorf("shifted by h/2: %v, want 1/3", v)
	}
}
