package detect

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/disiam/disiam/backbone"
	"github.com/disiam/disiam/nn"
	"github.com/disiam/disiam/optim"
)

// rectImages draws n 3×h×w images of filled rectangles on a gray
// background, red for class 0 and blue for class 1, and returns them with
// their objects.
func rectImages(n, h, w int) ([]float32, [][]Object) {
	scenes := [][]Object{
		{{Class: 0, Box: Box{6, 8, 30, 40}}, {Class: 1, Box: Box{36, 20, 60, 52}}},
		{{Class: 1, Box: Box{10, 30, 34, 60}}, {Class: 0, Box: Box{40, 4, 58, 26}}},
		{{Class: 0, Box: Box{20, 18, 50, 50}}},
		{{Class: 1, Box: Box{4, 4, 24, 24}}, {Class: 1, Box: Box{34, 36, 60, 60}}},
	}
	colors := [][3]float32{{1, -0.5, -0.5}, {-0.5, -0.5, 1}}
	pix := make([]float32, n*3*h*w)
	var objs [][]Object
	for i := 0; i < n; i++ {
		s := scenes[i%len(scenes)]
		objs = append(objs, s)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := [3]float32{0, 0, 0}
				for _, o := range s {
					if float64(x)+0.5 > o.Box[0] && float64(x)+0.5 < o.Box[2] && float64(y)+0.5 > o.Box[1] && float64(y)+0.5 < o.Box[3] {
						c = colors[o.Class]
					}
				}
				for ch := range 3 {
					pix[((i*3+ch)*h+y)*w+x] = c[ch]
				}
			}
		}
	}
	return pix, objs
}

// TestOverfit trains a small FCOS (a narrow ResNet-18, 32 channels) with
// plain SGD on four images for a few dozen steps: the loss must drop and
// every object must come back as a detection of its class with IoU ≥ 0.5,
// with AP50 (all-point interpolation over the four images) above 0.9.
func TestOverfit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n, h, w, steps = 4, 64, 64, 120
	b := backbone.NewResNet(18, backbone.Config{Width: 8, Seed: 3})
	m, err := NewFCOS(b, Config{Classes: 2, Channels: 32, HeadConvs: 2, Seed: 4, FrozenBN: true})
	if err != nil {
		t.Fatal(err)
	}
	pix, objs := rectImages(n, h, w)
	g := G.NewGraph()
	x, xt := nn.Input(g, "images", tensor.Float32, n, 3, h, w)
	copy(xt.Data().([]float32), pix)
	tg, err := m.TrainingGraph(x)
	if err != nil {
		t.Fatal(err)
	}
	params := nn.Trainable(m)
	prog, err := nn.Compile(g, tg.Loss, params)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := tg.SetTargets(objs); err != nil {
		t.Fatal(err)
	}
	opt := optim.NewSGD(params, optim.SGDConfig{Momentum: 0.9, WeightDecay: 1e-4})
	var first, last float64
	for step := range steps {
		if err := prog.Run(); err != nil {
			t.Fatal(err)
		}
		l := prog.Loss()
		if math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("step %d: loss %v", step, l)
		}
		if step == 0 {
			first = l
		}
		last = l
		lr := 0.01 * math.Min(1, float64(step+1)/20) // linear warm-up
		opt.Step(lr)
	}
	t.Logf("loss %.4f -> %.4f after %d steps", first, last, steps)
	if !(last < 0.35*first) {
		t.Errorf("loss %.4f -> %.4f: did not learn", first, last)
	}
	p, err := m.NewPredictor(n, h, w)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	copy(p.Images().Data().([]float32), pix)
	dets, err := p.Predict()
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		for _, gt := range o {
			best := 0.0
			for _, d := range dets[i] {
				if d.Class == gt.Class {
					best = math.Max(best, IoU(d.Box, gt.Box))
				}
			}
			if best < 0.5 {
				t.Errorf("image %d: object %v found with IoU %.2f", i, gt, best)
			}
		}
	}
	ap := ap50(dets, objs, 2)
	t.Logf("AP50 %.3f", ap)
	if !(ap > 0.9) {
		t.Errorf("AP50 %.3f", ap)
	}
}

// ap50 is the mean over classes of the all-point interpolated average
// precision at IoU 0.5 (greedy matching by descending score, as VOC and
// COCO match).
func ap50(dets [][]Detection, objs [][]Object, classes int) float64 {
	var sum float64
	for c := range classes {
		type hit struct {
			score float64
			tp    bool
		}
		var hits []hit
		npos := 0
		for i := range objs {
			var gts []Box
			for _, o := range objs[i] {
				if o.Class == c {
					gts = append(gts, o.Box)
				}
			}
			npos += len(gts)
			used := make([]bool, len(gts))
			for _, d := range dets[i] { // descending score
				if d.Class != c {
					continue
				}
				bj, bv := -1, 0.5
				for j, gb := range gts {
					if v := IoU(d.Box, gb); !used[j] && v >= bv {
						bj, bv = j, v
					}
				}
				if bj >= 0 {
					used[bj] = true
				}
				hits = append(hits, hit{d.Score, bj >= 0})
			}
		}
		// sort all hits by score, descending
		for i := 1; i < len(hits); i++ {
			for j := i; j > 0 && hits[j].score > hits[j-1].score; j-- {
				hits[j], hits[j-1] = hits[j-1], hits[j]
			}
		}
		var tp, fp int
		prec := make([]float64, len(hits))
		rec := make([]float64, len(hits))
		for k, hh := range hits {
			if hh.tp {
				tp++
			} else {
				fp++
			}
			prec[k] = float64(tp) / float64(tp+fp)
			rec[k] = float64(tp) / float64(npos)
		}
		for k := len(prec) - 2; k >= 0; k-- {
			prec[k] = math.Max(prec[k], prec[k+1])
		}
		ap, prevRec := 0.0, 0.0
		for k := range hits {
			ap += (rec[k] - prevRec) * prec[k]
			prevRec = rec[k]
		}
		sum += ap
	}
	return sum / float64(classes)
}
