package augment

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func testRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5555)) }

// within reports whether a binomial frequency k/n is within 5 standard
// errors of p (a false alarm about once in 3.5 million runs).
func within(k, n int, p float64) bool {
	se := math.Sqrt(p * (1 - p) / float64(n))
	return math.Abs(float64(k)/float64(n)-p) <= 5*se+1e-12
}

// TestCropParamsDistribution checks RandomResizedCrop's sampling against
// the distributions it must follow when no try is rejected: area fraction
// uniform on the scale range, log aspect ratio uniform on the log ratio
// range, position uniform over the valid offsets.
func TestCropParamsDistribution(t *testing.T) {
	const n = 20000
	rng := testRand(1)
	scale := [2]float64{0.1, 0.5}
	ratio := [2]float64{3.0 / 4, 4.0 / 3}
	areas := make([]float64, n)
	logs := make([]float64, n)
	var topSum, leftSum float64
	for i := range n {
		top, left, h, w := CropParams(rng, 100, 100, scale, ratio)
		if h <= 0 || w <= 0 || top < 0 || left < 0 || top+h > 100 || left+w > 100 {
			t.Fatalf("crop %d,%d %dx%d outside the image", top, left, h, w)
		}
		areas[i] = float64(h*w) / 1e4
		logs[i] = math.Log(float64(w) / float64(h))
		topSum += float64(top) / float64(100-h)
		leftSum += float64(left) / float64(100-w)
	}
	sort.Float64s(areas)
	sort.Float64s(logs)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	// Deciles of the empirical distribution against the uniform ones. The
	// tolerance covers sampling noise (~0.003) and integer rounding of h
	// and w (about 1/70 relative).
	for q := 1; q < 10; q++ {
		i := q * n / 10
		wantA := scale[0] + (scale[1]-scale[0])*float64(q)/10
		if math.Abs(areas[i]-wantA) > 0.012 {
			t.Errorf("area decile %d = %.4f, want %.4f", q, areas[i], wantA)
		}
		wantL := lr0 + (lr1-lr0)*float64(q)/10
		if math.Abs(logs[i]-wantL) > 0.03 {
			t.Errorf("log-ratio decile %d = %.4f, want %.4f", q, logs[i], wantL)
		}
	}
	// Relative offsets are uniform on [0, 1]: mean 1/2, standard error
	// 0.29/sqrt(n) = 0.002.
	if m := topSum / n; math.Abs(m-0.5) > 0.012 {
		t.Errorf("mean relative top %.4f, want 0.5", m)
	}
	if m := leftSum / n; math.Abs(m-0.5) > 0.012 {
		t.Errorf("mean relative left %.4f, want 0.5", m)
	}
}

func TestCropParamsFallback(t *testing.T) {
	cases := []struct {
		name              string
		h, w              int
		scale, ratio      [2]float64
		top, left, ch, cw int
	}{
		// Target areas larger than the image: every try fails.
		{"whole image", 40, 50, [2]float64{2, 3}, [2]float64{0.5, 2}, 0, 0, 40, 50},
		{"too wide", 100, 300, [2]float64{2, 3}, [2]float64{3.0 / 4, 4.0 / 3}, 0, 83, 100, 133},
		{"too tall", 300, 100, [2]float64{2, 3}, [2]float64{3.0 / 4, 4.0 / 3}, 83, 0, 133, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, left, h, w := CropParams(testRand(2), tc.h, tc.w, tc.scale, tc.ratio)
			if top != tc.top || left != tc.left || h != tc.ch || w != tc.cw {
				t.Errorf("got %d,%d %dx%d, want %d,%d %dx%d", top, left, h, w, tc.top, tc.left, tc.ch, tc.cw)
			}
		})
	}
}

// countingTransform counts its applications.
type countingTransform struct{ n *int }

func (c countingTransform) Apply(img Image, _ *rand.Rand, _ *Workspace) Image { *c.n++; return img }

func TestRandomProbabilities(t *testing.T) {
	const n = 20000
	// A 1-row image whose flip, grayscale and solarization are detectable.
	src := Image{C: 3, H: 1, W: 2, Pix: []float32{0.1, 0.9, 0.8, 0.2, 0.3, 0.6}}
	flipped := func(m Image) bool { return m.Pix[0] == 0.9 }
	gray := func(m Image) bool { return m.Pix[0] == m.Pix[2] && m.Pix[2] == m.Pix[4] }
	solar := func(m Image) bool { return m.Pix[1] != 0.9 }
	cases := []struct {
		name string
		tr   Transform
		hit  func(Image) bool
		p    float64
	}{
		{"flip default", RandomHorizontalFlip{}, flipped, 0.5},
		{"flip 0.3", RandomHorizontalFlip{P: 0.3}, flipped, 0.3},
		{"flip 1", RandomHorizontalFlip{P: 1}, flipped, 1},
		{"grayscale default", RandomGrayscale{}, gray, 0.1},
		{"grayscale 0.2", RandomGrayscale{P: 0.2}, gray, 0.2},
		{"solarize 0.2", RandomSolarize{P: 0.2}, solar, 0.2},
	}
	var ws Workspace
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := testRand(3)
			k := 0
			for range n {
				if tc.hit(ws.Run(tc.tr, src, rng)) {
					k++
				}
			}
			if !within(k, n, tc.p) {
				t.Errorf("applied %d of %d times, want p = %v", k, n, tc.p)
			}
		})
	}
	for _, p := range []float64{0, 0.8, 1} {
		k := 0
		rng := testRand(4)
		ra := RandomApply{P: p, Transform: countingTransform{&k}}
		for range n {
			ws.Run(ra, src, rng)
		}
		want := p
		if p == 0 {
			want = 0.5 // the documented default
		}
		if !within(k, n, want) {
			t.Errorf("RandomApply{P: %v}: applied %d of %d times", p, k, n)
		}
	}
}

// TestColorJitterComposition replays ColorJitter's draws (the permutation,
// then the enabled factors) and applies the functional ops in that order:
// the transform must match exactly, and over many draws all 24 orders must
// appear about equally often.
func TestColorJitterComposition(t *testing.T) {
	src := ruleImage("jitter", 3, 9, 11)
	j := ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}
	var ws Workspace
	const n = 4800
	counts := map[[4]int]int{}
	for i := range n {
		got := ws.Run(j, src, testRand(uint64(i)))
		rng := testRand(uint64(i))
		order := [4]int{0, 1, 2, 3}
		rng.Shuffle(4, func(a, b int) { order[a], order[b] = order[b], order[a] })
		b := 0.6 + 0.8*rng.Float64()
		c := 0.6 + 0.8*rng.Float64()
		s := 0.6 + 0.8*rng.Float64()
		h := -0.1 + 0.2*rng.Float64()
		want := NewImage(3, 9, 11)
		copy(want.Pix, src.Pix)
		for _, k := range order {
			switch k {
			case 0:
				AdjustBrightness(want, want, b)
			case 1:
				AdjustContrast(want, want, c)
			case 2:
				AdjustSaturation(want, want, s)
			case 3:
				AdjustHue(want, want, h)
			}
		}
		if !slices.Equal(got.Pix, want.Pix) {
			t.Fatalf("draw %d: ColorJitter differs from its functional replay", i)
		}
		counts[order]++
	}
	if len(counts) != 24 {
		t.Fatalf("%d distinct orders, want 24", len(counts))
	}
	// Chi-square with 23 degrees of freedom; 60 is far in the tail
	// (p < 1e-4).
	var chi2 float64
	e := float64(n) / 24
	for _, k := range counts {
		chi2 += (float64(k) - e) * (float64(k) - e) / e
	}
	if chi2 > 60 {
		t.Errorf("order counts chi-square %.1f: not uniform", chi2)
	}
}

func TestColorJitterFactorRange(t *testing.T) {
	// Brightness alone on a constant image 0.5 gives 0.5 f with f uniform
	// in [0.6, 1.4]: output in [0.3, 0.7), mean 0.5.
	src := Image{C: 3, H: 1, W: 1, Pix: []float32{0.5, 0.5, 0.5}}
	var ws Workspace
	rng := testRand(5)
	const n = 20000
	var sum float64
	lo, hi := 1.0, 0.0
	for range n {
		v := float64(ws.Run(ColorJitter{Brightness: 0.4}, src, rng).Pix[0])
		sum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo < 0.3-1e-6 || hi > 0.7 || lo > 0.302 || hi < 0.698 {
		t.Errorf("brightness range [%v, %v], want [0.3, 0.7]", lo, hi)
	}
	// standard error 0.4/sqrt(3)/2/sqrt(n) = 0.0008
	if m := sum / n; math.Abs(m-0.5) > 0.005 {
		t.Errorf("mean %v, want 0.5", m)
	}
}

func TestGaussianBlurReplay(t *testing.T) {
	src := ruleImage("blur", 3, 20, 24)
	g := GaussianBlur{}
	var ws Workspace
	for i := range 5 {
		got := ws.Run(g, src, testRand(uint64(i)))
		sigma := 0.1 + 1.9*testRand(uint64(i)).Float64()
		want := NewImage(3, 20, 24)
		Blur(want, src, 3, 3, sigma, sigma) // int(0.1*24) = 2, made odd
		if !slices.Equal(got.Pix, want.Pix) {
			t.Fatalf("draw %d: GaussianBlur differs from Blur with sigma %v", i, sigma)
		}
	}
	for _, tc := range []struct{ h, w, k int }{{224, 224, 23}, {32, 32, 3}, {96, 96, 9}, {64, 100, 11}} {
		if k := g.KernelFor(tc.h, tc.w); k != tc.k {
			t.Errorf("KernelFor(%d, %d) = %d, want %d", tc.h, tc.w, k, tc.k)
		}
	}
}

// TestInPlaceMatches checks that the ops documented to accept dst == src
// give the same result in place.
func TestInPlaceMatches(t *testing.T) {
	src := ruleImage("inplace", 3, 7, 9)
	ops := []struct {
		name string
		op   func(d, s Image)
	}{
		{"HFlip", HFlip},
		{"AdjustBrightness", func(d, s Image) { AdjustBrightness(d, s, 1.2) }},
		{"AdjustContrast", func(d, s Image) { AdjustContrast(d, s, 0.5) }},
		{"AdjustSaturation", func(d, s Image) { AdjustSaturation(d, s, 1.7) }},
		{"AdjustHue", func(d, s Image) { AdjustHue(d, s, -0.2) }},
		{"ToGrayscale", ToGrayscale},
		{"Solarize", func(d, s Image) { Solarize(d, s, 0.4) }},
		{"Standardize", func(d, s Image) { Standardize(d, s, []float32{0.5}, []float32{0.25}) }},
	}
	for _, tc := range ops {
		t.Run(tc.name, func(t *testing.T) {
			out := NewImage(3, 7, 9)
			tc.op(out, src)
			in := NewImage(3, 7, 9)
			copy(in.Pix, src.Pix)
			tc.op(in, in)
			if !slices.Equal(in.Pix, out.Pix) {
				t.Error("in-place result differs")
			}
		})
	}
}

func TestGrayscale3(t *testing.T) {
	g := ruleImage("g3", 1, 4, 5)
	var ws Workspace
	out := ws.Run(Grayscale3{}, g, nil)
	if out.C != 3 {
		t.Fatalf("%d channels", out.C)
	}
	for c := range 3 {
		if !slices.Equal(out.Pix[c*20:(c+1)*20], g.Pix) {
			t.Errorf("channel %d differs from the gray image", c)
		}
	}
	rgb := ruleImage("g3rgb", 3, 4, 5)
	if out := ws.Run(Grayscale3{}, rgb, nil); !slices.Equal(out.Pix, rgb.Pix) {
		t.Error("3-channel image changed")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		tr   any    // a Transform or Views
		want string // "" for valid
	}{
		{"crop ok", RandomResizedCrop{Size: 32}, ""},
		{"crop size", RandomResizedCrop{}, "size 0"},
		{"crop scale", RandomResizedCrop{Size: 8, Scale: [2]float64{0.5, 0.2}}, "scale"},
		{"crop ratio", RandomResizedCrop{Size: 8, Ratio: [2]float64{-1, 2}}, "ratio"},
		{"jitter hue", ColorJitter{Hue: 0.7}, "hue"},
		{"jitter negative", ColorJitter{Contrast: -0.1}, "negative"},
		{"flip p", RandomHorizontalFlip{P: 1.5}, "probability"},
		{"gray p", RandomGrayscale{P: math.NaN()}, "probability"},
		{"blur even", GaussianBlur{Kernel: 4}, "kernel 4"},
		{"blur sigma", GaussianBlur{Sigma: [2]float64{0, 1}}, "sigma"},
		{"normalize std", Normalize{Mean: []float32{0}, Std: []float32{0}}, "std[0]"},
		{"normalize lengths", Normalize{Mean: []float32{0, 0}, Std: []float32{1}}, "2 means"},
		{"resize", Resize{}, "Resize"},
		{"center crop", CenterCrop{}, "CenterCrop"},
		{"nested", Compose{Identity{}, RandomApply{P: 0.5, Transform: Compose{ColorJitter{Hue: 1}}}}, "Compose[1]: augment: RandomApply: augment: Compose[0]"},
		{"apply nil", RandomApply{P: 0.5}, "nil transform"},
		{"views", Views{SimSiamView(32, CIFAR10Norm), RandomResizedCrop{}}, "view 1"},
		{"presets", Views{SimSiamView(96, ImageNetNorm), SimCLRView(32, 0, CIFAR10Norm), BYOLViews(224, ImageNetNorm)[1], EvalView(224, FashionMNISTNorm)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if v, ok := tc.tr.(Views); ok {
				err = v.Validate()
			} else {
				err = Validate(tc.tr.(Transform))
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// presetSteps lists the types in a preset, for structure checks.
func presetSteps(c Compose) string {
	var s []string
	for _, t := range c {
		switch t := t.(type) {
		case RandomApply:
			switch t.Transform.(type) {
			case ColorJitter:
				s = append(s, "jitter")
			case GaussianBlur:
				s = append(s, "blur")
			}
		case RandomResizedCrop:
			s = append(s, "crop")
		case RandomHorizontalFlip:
			s = append(s, "flip")
		case RandomGrayscale:
			s = append(s, "gray")
		case RandomSolarize:
			s = append(s, "solarize")
		case Normalize:
			s = append(s, "norm")
		}
	}
	return strings.Join(s, " ")
}

func TestPresets(t *testing.T) {
	cases := []struct {
		name string
		c    Compose
		want string
	}{
		{"simsiam 32", SimSiamView(32, CIFAR10Norm), "crop jitter gray flip norm"},
		{"simsiam 224", SimSiamView(224, ImageNetNorm), "crop jitter gray blur flip norm"},
		{"simclr 32", SimCLRView(32, 0.5, CIFAR10Norm), "crop flip jitter gray norm"},
		{"simclr 224", SimCLRView(224, 0, ImageNetNorm), "crop flip jitter gray blur norm"},
		{"byol 1", BYOLViews(224, ImageNetNorm)[0].(Compose), "crop flip jitter gray blur norm"},
		{"byol 2", BYOLViews(224, ImageNetNorm)[1].(Compose), "crop flip jitter gray blur solarize norm"},
		{"byol 2 at 32", BYOLViews(32, CIFAR10Norm)[1].(Compose), "crop flip jitter gray solarize norm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := presetSteps(tc.c); got != tc.want {
				t.Errorf("steps %q, want %q", got, tc.want)
			}
		})
	}
	sc := SimSiamView(32, CIFAR10Norm)
	if c := sc[0].(RandomResizedCrop); c.Scale != [2]float64{0.2, 1} || c.Size != 32 {
		t.Errorf("SimSiam crop %+v", c)
	}
	if j := sc[1].(RandomApply); j.P != 0.8 || j.Transform != (ColorJitter{0.4, 0.4, 0.4, 0.1}) {
		t.Errorf("SimSiam jitter %+v", j)
	}
	if j := SimCLRView(32, 0.5, CIFAR10Norm)[2].(RandomApply).Transform; j != (ColorJitter{0.4, 0.4, 0.4, 0.1}) {
		t.Errorf("SimCLR jitter at strength 0.5: %+v", j)
	}
	if j := SimCLRView(32, 0, CIFAR10Norm)[2].(RandomApply).Transform; j != (ColorJitter{0.8, 0.8, 0.8, 0.2}) {
		t.Errorf("SimCLR default jitter: %+v", j)
	}
	b := BYOLViews(224, ImageNetNorm)
	if p := b[0].(Compose)[4].(RandomApply).P; p != 1 {
		t.Errorf("BYOL view 1 blur p %v", p)
	}
	if p := b[1].(Compose)[4].(RandomApply).P; p != 0.1 {
		t.Errorf("BYOL view 2 blur p %v", p)
	}
}

// TestPipelineOutput runs every preset on an image and checks shape and
// finiteness, and that a view is reproducible from its seed.
func TestPipelineOutput(t *testing.T) {
	src := ruleImage("pipe", 3, 40, 48)
	var ws Workspace
	sr := NewSampleRand()
	for name, v := range map[string]Transform{
		"simsiam32": SimSiamView(32, CIFAR10Norm), "simsiam96": SimSiamView(96, ImageNetNorm),
		"simclr": SimCLRView(64, 0, ImageNetNorm), "byol2": BYOLViews(64, ImageNetNorm)[1],
		"eval": EvalView(224, CIFAR10Norm),
	} {
		t.Run(name, func(t *testing.T) {
			for i := range 20 {
				a := ws.Run(v, src, sr.Seed(9, 1, i))
				ac := slices.Clone(a.Pix)
				b := ws.Run(v, src, sr.Seed(9, 1, i))
				if !slices.Equal(ac, b.Pix) {
					t.Fatal("same (seed, epoch, index) gave different views")
				}
				for _, x := range ac {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || math.Abs(float64(x)) > 10 {
						t.Fatalf("sample %v out of range", x)
					}
				}
			}
		})
	}
}

func TestSampleSeedDistinct(t *testing.T) {
	seen := map[uint64]bool{}
	for _, s := range []uint64{0, 1} {
		for e := range 3 {
			for i := range 100 {
				a, _ := SampleSeed(s, e, i)
				if seen[a] {
					t.Fatalf("seed collision at (%d, %d, %d)", s, e, i)
				}
				seen[a] = true
			}
		}
	}
}

// TestNoAllocs checks that the SimSiam pipeline reuses its buffers: after
// the first image, augmenting allocates nothing.
func TestNoAllocs(t *testing.T) {
	src := ruleImage("alloc", 3, 32, 32)
	var ws Workspace
	sr := NewSampleRand()
	views := Views{SimSiamView(32, CIFAR10Norm), SimCLRView(64, 0, ImageNetNorm), BYOLViews(64, ImageNetNorm)[1]}
	i := 0
	run := func() {
		for _, v := range views {
			ws.Run(v, src, sr.Seed(1, 0, i))
		}
		i++
	}
	for range 50 {
		run() // grow buffers
	}
	if a := testing.AllocsPerRun(200, run); a != 0 {
		t.Errorf("%v allocations per image, want 0", a)
	}
}

func TestPanicsOnMisuse(t *testing.T) {
	img := NewImage(3, 4, 4)
	cases := []struct {
		name string
		f    func()
	}{
		{"crop overlap", func() { ResizedCrop(img, img, 0, 0, 2, 2) }},
		{"crop channels", func() { ResizedCrop(NewImage(1, 2, 2), img, 0, 0, 2, 2) }},
		{"blur even", func() { Blur(NewImage(3, 4, 4), img, 2, 3, 1, 1) }},
		{"hue range", func() { AdjustHue(img, img, 0.6) }},
		{"brightness negative", func() { AdjustBrightness(img, img, -1) }},
		{"bad image", func() { HFlip(Image{C: 3, H: 4, W: 4, Pix: make([]float32, 5)}, img) }},
		{"standardize lengths", func() { Standardize(img, img, []float32{1, 2}, []float32{1, 2}) }},
		{"multiview 0", func() { MultiView(0, Identity{}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "augment: ") {
					t.Errorf("panic %v without the augment: prefix", r)
				}
			}()
			tc.f()
		})
	}
}
