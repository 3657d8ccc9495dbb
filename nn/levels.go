package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/internal/parallel"
)

// FlattenLevels turns the per-level outputs of a dense prediction head,
// levels [N, C, H_l, W_l], into one tensor [N, Σ_l H_l·W_l, C]: each level
// is permuted to [N, H_l·W_l, C] (position-major, row by row, then the C
// values of a position) and the levels are concatenated along the
// position axis in the order given, as torchvision's RetinaNet and FCOS
// heads do with view/permute/reshape and torch.cat(dim=1). All levels must
// share N and C. Each level's gradient is its part of dy permuted back.
func FlattenLevels(levels ...*G.Node) *G.Node {
	if len(levels) == 0 {
		panic("nn: FlattenLevels: no levels")
	}
	s0 := levels[0].Shape()
	for i, l := range levels {
		s := l.Shape()
		if l.Dims() != 4 || s[0] != s0[0] || s[1] != s0[1] {
			panic(fmt.Sprintf("nn: FlattenLevels: level %d has shape %v, level 0 %v (want [N, C, H, W] with equal N and C)", i, s, s0))
		}
	}
	dims := make([]int, len(levels))
	for i := range dims {
		dims[i] = 4
	}
	return Apply(flattenLevelsKernel{dims: dims}, levels...)
}

type flattenLevelsKernel struct{ dims []int }

func (k flattenLevelsKernel) Name() string  { return fmt.Sprintf("FlattenLevels(%d)", len(k.dims)) }
func (k flattenLevelsKernel) InDims() []int { return k.dims }
func (k flattenLevelsKernel) OutDims() int  { return 3 }
func (k flattenLevelsKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	total := 0
	for i, s := range in {
		if s[0] != in[0][0] || s[1] != in[0][1] {
			return nil, fmt.Errorf("level %d has shape %v, level 0 %v", i, s, in[0])
		}
		total += s[2] * s[3]
	}
	return tensor.Shape{in[0][0], total, in[0][1]}, nil
}

func (k flattenLevelsKernel) DiffWRT() []bool {
	d := make([]bool, len(k.dims))
	for i := range d {
		d[i] = true
	}
	return d
}

func (k flattenLevelsKernel) Grad(in G.Nodes, out, dy *G.Node) (G.Nodes, error) {
	grads := make(G.Nodes, len(in))
	off := 0
	for i, l := range in {
		s := l.Shape()
		grads[i] = Apply(levelGradKernel{shape: s.Clone(), off: off}, dy)
		off += s[2] * s[3]
	}
	return grads, nil
}

func (k flattenLevelsKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	os := out.Shape()
	switch y := out.Data().(type) {
	case []float32:
		off := 0
		for _, l := range in {
			s := l.Shape()
			permuteLevel(y, asSlice[float32](l), s[0], s[1], s[2]*s[3], os[1], off, true)
			off += s[2] * s[3]
		}
	case []float64:
		off := 0
		for _, l := range in {
			s := l.Shape()
			permuteLevel(y, asSlice[float64](l), s[0], s[1], s[2]*s[3], os[1], off, true)
			off += s[2] * s[3]
		}
	default:
		return errDtype(out)
	}
	return nil
}

// permuteLevel copies between a level x [N, C, S] and rows off..off+S of
// y [N, A, C]: into y when toFlat, else from y into x.
func permuteLevel[T floating](y, x []T, n, c, s, a, off int, toFlat bool) {
	parallel.For(n*s, parallel.Grain(n*s, max(1, 1<<12/max(c, 1))), func(lo, hi int) {
		for q := lo; q < hi; q++ {
			ni, p := q/s, q%s
			row := y[(ni*a+off+p)*c : (ni*a+off+p+1)*c]
			base := ni*c*s + p
			if toFlat {
				for ci := range row {
					row[ci] = x[base+ci*s]
				}
			} else {
				for ci, v := range row {
					x[base+ci*s] = v
				}
			}
		}
	})
}

// levelGradKernel extracts one level's gradient [N, C, H, W] from the
// gradient of FlattenLevels' output, starting at position off.
type levelGradKernel struct {
	shape tensor.Shape
	off   int
}

func (k levelGradKernel) Name() string {
	return fmt.Sprintf("FlattenLevelsGrad(%v@%d)", k.shape, k.off)
}
func (k levelGradKernel) InDims() []int { return []int{3} }
func (k levelGradKernel) OutDims() int  { return 4 }
func (k levelGradKernel) OutShape(in []tensor.Shape) (tensor.Shape, error) {
	return k.shape.Clone(), nil
}

func (k levelGradKernel) Forward(out *tensor.Dense, in []*tensor.Dense) error {
	if err := checkDense(in); err != nil {
		return err
	}
	s, a := k.shape, in[0].Shape()[1]
	switch dx := out.Data().(type) {
	case []float32:
		permuteLevel(asSlice[float32](in[0]), dx, s[0], s[1], s[2]*s[3], a, k.off, false)
	case []float64:
		permuteLevel(asSlice[float64](in[0]), dx, s[0], s[1], s[2]*s[3], a, k.off, false)
	default:
		return errDtype(out)
	}
	return nil
}
