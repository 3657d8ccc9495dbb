package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/nn/nntest"
)

// fcos3dGolden is testdata/fcos3d_golden.json, written by
// testdata/gen_fcos3d.py (a PyTorch transcription of mmdetection3d's
// FCOSMono3DHead.loss_by_feat).
type fcos3dGolden struct {
	Image   [2]int          `json:"image"`
	Cameras [][3][4]float64 `json:"cameras"`
	Objects [][]struct {
		Box3D [9]float64 `json:"box3d"`
		Box   [4]float64 `json:"box"`
		Label int        `json:"label"`
		Attr  int        `json:"attr"`
	} `json:"objects"`
	NumPos   int                  `json:"num_pos"`
	Labels3D [][]int              `json:"labels_3d"`
	Losses   map[string]float64   `json:"losses"`
	Grads    map[string][]float64 `json:"grads"`
}

// TestFCOS3DTranscription runs the loss kernels, the training-time decode
// (per-level scales, exp) and the targets on the transcription's inputs
// and compares the assignment, the nine losses and the gradients of their
// sum with respect to every raw head output and scale, in float64 (to
// 1e-10) and float32 (to float32 precision).
func TestFCOS3DTranscription(t *testing.T) {
	data, err := os.ReadFile("testdata/fcos3d_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref fcos3dGolden
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	n, h, w := len(ref.Cameras), ref.Image[0], ref.Image[1]
	var objs [][]Object
	var cams []Camera
	for i, os := range ref.Objects {
		cams = append(cams, Camera{P: ref.Cameras[i]})
		objs = append(objs, []Object{})
		for _, o := range os {
			b := o.Box3D
			objs[i] = append(objs[i], Object{Class: o.Label, Attr: o.Attr, Box: Box(o.Box),
				Center: [3]float64{b[0], b[1], b[2]}, Size: [3]float64{b[3], b[4], b[5]}, Yaw: b[6], Velocity: [2]float64{b[7], b[8]}})
		}
	}
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			g := G.NewGraph()
			var params []*nn.Param
			param := func(name string, f func(r float64) float64, shape ...int) *G.Node {
				v := nntest.RuleValues(name, tensor.Shape(shape).TotalSize())
				var back any
				if dt == tensor.Float64 {
					b := make([]float64, len(v))
					for i, r := range v {
						b[i] = f(r)
					}
					back = b
				} else {
					b := make([]float32, len(v))
					for i, r := range v {
						b[i] = float32(f(r))
					}
					back = b
				}
				p := &nn.Param{Name: name, Trainable: true, Value: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))}
				params = append(params, p)
				return p.Node(g)
			}
			var maps [][2]int
			var cls, off, dep, siz, rot, vel, dir, att, ctr []*G.Node
			var scaleNames []string
			for l, s := range Strides3D {
				mh, mw := (h+int(s)-1)/int(s), (w+int(s)-1)/int(s)
				maps = append(maps, [2]int{mh, mw})
				id := func(r float64) float64 { return r }
				lin := func(a, b float64) func(float64) float64 { return func(r float64) float64 { return a*r + b } }
				cls = append(cls, param(fmt.Sprintf("fcos3d.cls.%d", l), lin(3, -2), n, 10, mh, mw))
				o := param(fmt.Sprintf("fcos3d.offset.%d", l), id, n, 2, mh, mw)
				d := param(fmt.Sprintf("fcos3d.depth.%d", l), lin(1, 2.5), n, 1, mh, mw)
				z := param(fmt.Sprintf("fcos3d.size.%d", l), lin(0.5, 0), n, 3, mh, mw)
				rot = append(rot, param(fmt.Sprintf("fcos3d.rot.%d", l), lin(3, 0), n, 1, mh, mw))
				vel = append(vel, param(fmt.Sprintf("fcos3d.velo.%d", l), lin(2, 0), n, 2, mh, mw))
				// The three scales of a level are one [3] tensor in the reference.
				sv := nntest.RuleValues(fmt.Sprintf("fcos3d.scales.%d", l), 3)
				var sc [3]*G.Node
				for k := range 3 {
					name := fmt.Sprintf("fcos3d.scales.%d.%d", l, k)
					scaleNames = append(scaleNames, name)
					sc[k] = param(name, func(float64) float64 { return 1 + 0.2*sv[k] }, 1)
				}
				off = append(off, nn.ScaleBy(o, sc[0]))
				dep = append(dep, nn.Exp(nn.ScaleBy(d, sc[1])))
				siz = append(siz, nn.Exp(nn.ScaleBy(z, sc[2])))
				dir = append(dir, param(fmt.Sprintf("fcos3d.dir.%d", l), lin(2, 0), n, 2, mh, mw))
				att = append(att, param(fmt.Sprintf("fcos3d.attr.%d", l), lin(2, 0), n, 9, mh, mw))
				ctr = append(ctr, param(fmt.Sprintf("fcos3d.ctr.%d", l), lin(2, 0), n, 1, mh, mw))
			}
			levels, err := NewLevels3D(maps)
			if err != nil {
				t.Fatal(err)
			}
			out := &Outputs3D{Levels: levels, Points: Points3D(levels), HeadOutputs3D: &HeadOutputs3D{
				Cls: nn.FlattenLevels(cls...), Offset: nn.FlattenLevels(off...), Depth: nn.FlattenLevels(dep...),
				Size: nn.FlattenLevels(siz...), Rot: nn.FlattenLevels(rot...), Velo: nn.FlattenLevels(vel...),
				Dir: nn.FlattenLevels(dir...), Attr: nn.FlattenLevels(att...), Ctr: nn.FlattenLevels(ctr...)}}
			x, _ := nn.Input(g, "images", dt, n, 3, h, w)
			tc := Target3DConfig{Classes: 10, Attrs: 9, Radius: 1.5, Alpha: 2.5}
			tg, err := newTrainGraph3D(tc, DefaultCodeWeights, 1.0/9, out, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.SetTargets(objs, cams); err != nil {
				t.Fatal(err)
			}
			if tg.Targets.NumPositive != ref.NumPos {
				t.Errorf("%d positives, reference %d", tg.Targets.NumPositive, ref.NumPos)
			}
			for i, m := range tg.Targets.Matched {
				for a, k := range m {
					want := ref.Labels3D[i][a]
					got := -1
					if k >= 0 {
						got = objs[i][k].Class
					}
					if got != want {
						t.Fatalf("image %d point %v: label %d, reference %d", i, out.Points[a], got, want)
					}
				}
			}
			prog, err := nn.Compile(g, tg.Loss, params)
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if err := prog.Run(); err != nil {
				t.Fatal(err)
			}
			lossTol, gradTol := 1e-10, 1e-9
			if dt == tensor.Float32 {
				lossTol, gradTol = 1e-6, 5e-6
			}
			var worstL, worstG float64
			for i, v := range tg.Losses() {
				want := ref.Losses[Loss3DNames[i]]
				e := math.Abs(v-want) / math.Abs(want)
				worstL = math.Max(worstL, e)
				if !(e <= lossTol) {
					t.Errorf("%s = %.12g, reference %.12g (relative error %.2g)", Loss3DNames[i], v, want, e)
				}
			}
			for _, p := range params {
				key := p.Name
				var want []float64
				var l, k int
				if _, err := fmt.Sscanf(p.Name, "fcos3d.scales.%d.%d", &l, &k); err == nil {
					want = []float64{ref.Grads[fmt.Sprintf("fcos3d.scales.%d", l)][k]}
				} else {
					want = ref.Grads[key]
				}
				var e float64
				if dt == tensor.Float64 {
					e = relErrOrAbs(p.Grad.Data().([]float64), want)
				} else {
					e = relErrOrAbs(p.Grad.Data().([]float32), want)
				}
				worstG = math.Max(worstG, e)
				if !(e <= gradTol) {
					t.Errorf("gradient of %s: relative error %.3g", p.Name, e)
				}
			}
			t.Logf("%v: %d positives, worst relative error: losses %.2g, gradients %.2g", dt, tg.Targets.NumPositive, worstL, worstG)
		})
	}
}

// relErrOrAbs is relErr, or the largest absolute value of got when want
// is all zero (a level without positives).
func relErrOrAbs[T float32 | float64](got []T, want []float64) float64 {
	zero := true
	for _, w := range want {
		zero = zero && w == 0
	}
	if !zero || len(got) != len(want) {
		return relErr(got, want)
	}
	var m float64
	for _, v := range got {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}
