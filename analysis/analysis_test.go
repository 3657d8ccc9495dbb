package analysis

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot/vg"

	"github.com/disiam/disiam/internal/parallel"
)

// gaussClusters draws n points of dim dimensions around classes seeded
// Gaussian centres (spread sep), unit noise; point i has class i % classes.
func gaussClusters(n, dim, classes int, sep float64, seed uint64) ([]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 9))
	centers := make([]float64, classes*dim)
	for i := range centers {
		centers[i] = sep * r.NormFloat64()
	}
	x := make([]float32, n*dim)
	y := make([]int, n)
	for i := range n {
		c := i % classes
		y[i] = c
		for j := range dim {
			x[i*dim+j] = float32(centers[c*dim+j] + r.NormFloat64())
		}
	}
	return x, y
}

type reference struct {
	KDE []struct {
		Name       string    `json:"name"`
		Points     []float64 `json:"points"`
		Queries    []float64 `json:"queries"`
		Density    []float64 `json:"density"`
		Covariance []float64 `json:"covariance"`
	} `json:"kde"`
	Trust []struct {
		Name  string    `json:"name"`
		Dim   int       `json:"dim"`
		K     int       `json:"k"`
		X     []float32 `json:"x"`
		Y     []float64 `json:"y"`
		Value float64   `json:"trustworthiness"`
	} `json:"trustworthiness"`
}

func loadReference(t *testing.T) reference {
	t.Helper()
	raw, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestKDEMatchesSciPy compares densities and kernel covariances with
// scipy.stats.gaussian_kde (testdata/gen_reference.py): 1e-11 relative.
func TestKDEMatchesSciPy(t *testing.T) {
	for _, tc := range loadReference(t).KDE {
		t.Run(tc.Name, func(t *testing.T) {
			k, err := NewKDE(tc.Points)
			if err != nil {
				t.Fatal(err)
			}
			cov := []float64{k.Cov[0][0], k.Cov[0][1], k.Cov[1][0], k.Cov[1][1]}
			var worst float64
			for i, v := range tc.Covariance {
				worst = max(worst, math.Abs(cov[i]-v)/math.Abs(v))
			}
			for i, want := range tc.Density {
				got := k.Density(tc.Queries[2*i], tc.Queries[2*i+1])
				worst = max(worst, math.Abs(got-want)/want)
			}
			t.Logf("max relative error %.2g", worst)
			if worst > 1e-11 {
				t.Errorf("max relative error %.3g > 1e-11", worst)
			}
		})
	}
}

// TestTrustworthinessMatchesReference compares with scikit-learn's formula
// in numpy (1e-12), and checks the extremes: an embedding that is the
// input itself is perfectly trustworthy.
func TestTrustworthinessMatchesReference(t *testing.T) {
	for _, tc := range loadReference(t).Trust {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := Trustworthiness(tc.X, tc.Dim, tc.Y, 2, tc.K)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.Value) > 1e-12 {
				t.Errorf("trustworthiness %.15g, reference %.15g", got, tc.Value)
			}
			self, err := Trustworthiness(tc.X, tc.Dim, to64(tc.X), tc.Dim, tc.K)
			if err != nil || self != 1 {
				t.Errorf("trustworthiness of the input itself %v, %v; want 1", self, err)
			}
		})
	}
}

// TestNeighbors compares the blocked search with brute force on data
// with exact ties (duplicated points and a lattice).
func TestNeighbors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, dim int
		k      int
		dup    bool
	}{
		{"random", 1200, 7, 9, false},
		{"lattice ties", 400, 2, 6, true},
		{"k above n", 5, 3, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			x := make([]float64, tc.n*tc.dim)
			for i := range x {
				if tc.dup {
					x[i] = float64(r.IntN(5))
				} else {
					x[i] = r.NormFloat64()
				}
			}
			idx, dist, err := Neighbors(x, tc.dim, tc.k)
			if err != nil {
				t.Fatal(err)
			}
			k := min(tc.k, tc.n-1)
			for i := range tc.n {
				type nb struct {
					d float64
					j int
				}
				var all []nb
				for j := range tc.n {
					if j != i {
						var s float64
						for a := range tc.dim {
							e := x[i*tc.dim+a] - x[j*tc.dim+a]
							s += e * e
						}
						all = append(all, nb{math.Sqrt(s), j})
					}
				}
				slices.SortStableFunc(all, func(a, b nb) int {
					if a.d < b.d {
						return -1
					} else if a.d > b.d {
						return 1
					}
					return 0
				})
				for a := range k {
					if int(idx[i*k+a]) != all[a].j || dist[i*k+a] != all[a].d {
						t.Fatalf("row %d neighbour %d: %d at %v, want %d at %v", i, a, idx[i*k+a], dist[i*k+a], all[a].j, all[a].d)
					}
				}
			}
		})
	}
}

// TestTriMapBeatsPCA embeds Gaussian clusters (1,500 points, 64
// dimensions, 10 classes whose centres are about as far apart as the noise)
// and requires: the loss decreases, TriMap's 2D embedding has a higher
// leave-one-out 10-NN accuracy and trustworthiness (k = 10) than the first
// two principal components, and the result is bit-identical for 1 and 3
// goroutines.
func TestTriMapBeatsPCA(t *testing.T) {
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	const n, dim, classes, k = 1500, 64, 10, 10
	x, y := gaussClusters(n, dim, classes, 0.6, 1)
	var first *TriMapResult
	for _, w := range []int{1, 3} {
		parallel.Workers = w
		res, err := TriMap(context.Background(), x, dim, TriMapConfig{Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = res
			continue
		}
		if !slices.Equal(res.Embedding, first.Embedding) || !slices.Equal(res.Loss, first.Loss) {
			t.Errorf("%d workers: embedding differs from 1 worker's", w)
		}
	}
	res := first
	if !(res.Final < 0.5*res.Initial) || !(res.Loss[len(res.Loss)-1] < res.Loss[0]) {
		t.Errorf("loss %.4f -> %.4f (first iteration %.4f, last %.4f): no decrease", res.Initial, res.Final, res.Loss[0], res.Loss[len(res.Loss)-1])
	}
	p, err := FitPCA(x, dim)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := p.Transform(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	accT, _ := KNNAccuracy(res.Embedding, 2, y, classes, k)
	accP, _ := KNNAccuracy(pc, 2, y, classes, k)
	accX, _ := KNNAccuracy(to64(x), dim, y, classes, k)
	trT, _ := Trustworthiness(x, dim, res.Embedding, 2, k)
	trP, _ := Trustworthiness(x, dim, pc, 2, k)
	t.Logf("loss %.4f -> %.4f, %.1f%% triplets violated", res.Initial, res.Final, 100*res.Violated)
	t.Logf("10-NN accuracy: TriMap %.3f, PCA %.3f, input %.3f; trustworthiness: TriMap %.4f, PCA %.4f", accT, accP, accX, trT, trP)
	if !(accT > accP+0.1) || !(trT > trP+0.03) {
		t.Errorf("TriMap (accuracy %.3f, trustworthiness %.4f) does not beat PCA (%.3f, %.4f)", accT, trT, accP, trP)
	}
}

// TestTriMapTriplets checks the sampled constraints: inliers are nearest
// neighbours, outliers are neither the anchor nor its inliers up to the
// current one, random triplets are ordered by scaled similarity, and the
// tempered-log weights are non-negative with minimum 0.
func TestTriMapTriplets(t *testing.T) {
	const n, dim = 300, 5
	x, _ := gaussClusters(n, dim, 3, 2, 2)
	cfg, _ := TriMapConfig{Seed: 1}.norm()
	xs, _, _ := trimapPreprocess(x, n, dim, cfg)
	tr, err := trimapTriplets(xs, n, dim, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != n*(12*4+3) {
		t.Fatalf("%d triplets", tr.Len())
	}
	nb, _, _ := Neighbors(xs, dim, 62)
	for p := range n * tr.NearestPerPoint {
		i, j, k := tr.I[p], tr.J[p], tr.K[p]
		if int(i) != p/tr.NearestPerPoint || !slices.Contains(nb[int(i)*62:int(i+1)*62], j) || k == i || k == j {
			t.Fatalf("triplet %d = (%d, %d, %d)", p, i, j, k)
		}
	}
	if lo := slices.Min(tr.W); lo != 0 {
		t.Errorf("smallest weight %v, want 0", lo)
	}
	for p := n * tr.NearestPerPoint; p < tr.Len(); p++ {
		if tr.I[p] == tr.J[p] || tr.I[p] == tr.K[p] || tr.J[p] == tr.K[p] {
			t.Fatalf("random triplet %d = (%d, %d, %d)", p, tr.I[p], tr.J[p], tr.K[p])
		}
	}
	if got := temperedLog(math.E, 1); math.Abs(got-1) > 1e-15 {
		t.Errorf("tempered log at t=1 is %v, want ln", got)
	}
	if got := temperedLog(4, 0.5); got != 2 {
		t.Errorf("tempered log of 4 at t=0.5 is %v, want 2(√4−1) = 2", got)
	}
}

// TestTriMapGradient compares the analytic gradient of the summed triplet
// loss with central finite differences.
func TestTriMapGradient(t *testing.T) {
	const n = 40
	x, _ := gaussClusters(n, 4, 2, 2, 3)
	cfg, _ := TriMapConfig{Inliers: 3, Outliers: 2, Random: 2}.norm()
	xs, _, _ := trimapPreprocess(x, n, 4, cfg)
	tr, _ := trimapTriplets(xs, n, 4, cfg)
	y, _ := trimapInit(xs, n, 4, false, cfg)
	for i := range y {
		y[i] *= 100
	}
	g := newTrimapGrad(n, 2, tr)
	grad := make([]float64, len(y))
	g.eval(y, grad)
	tmp := make([]float64, len(y))
	var worst float64
	for i := range y {
		yp, ym := slices.Clone(y), slices.Clone(y)
		yp[i] += 1e-6
		ym[i] -= 1e-6
		lp, _ := g.eval(yp, tmp)
		lm, _ := g.eval(ym, tmp)
		worst = max(worst, math.Abs((lp-lm)/2e-6-grad[i]))
	}
	if worst > 1e-6 {
		t.Errorf("gradient differs from finite differences by %.3g", worst)
	}
}

// TestPCA: components are orthonormal, ordered, sign-fixed, and the
// variances of the scores are the eigenvalues.
func TestPCA(t *testing.T) {
	x, _ := gaussClusters(500, 6, 3, 2, 4)
	p, err := FitPCA(x, 6)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Transform(x, 6)
	for a := range 6 {
		col := make([]float64, 500)
		for i := range col {
			col[i] = s[i*6+a]
		}
		if v := stat.Variance(col, nil); math.Abs(v-p.Variances[a]) > 1e-9*p.Variances[0] {
			t.Errorf("score variance %d: %v, eigenvalue %v", a, v, p.Variances[a])
		}
		if a > 0 && p.Variances[a] > p.Variances[a-1] {
			t.Errorf("variances not descending: %v", p.Variances)
		}
		row := p.Components[a*6 : (a+1)*6]
		var nn float64
		big := 0
		for j, v := range row {
			nn += v * v
			if math.Abs(v) > math.Abs(row[big]) {
				big = j
			}
		}
		if math.Abs(nn-1) > 1e-12 || row[big] < 0 {
			t.Errorf("component %d: norm² %v, largest entry %v", a, nn, row[big])
		}
	}
	if r := p.ExplainedVarianceRatio(); math.Abs(floatsSum(r)-1) > 1e-12 {
		t.Errorf("explained variance ratios sum to %v", floatsSum(r))
	}
}

func floatsSum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// TestCollapse: isotropic embeddings have an effective rank near their
// width and normalized stds near 1/sqrt(dim); embeddings on a line through
// the origin have rank 1 (normalized, they are two antipodal points, whose
// mean |coordinate| is 3/16 here); Roy & Vetterli's examples.
func TestCollapse(t *testing.T) {
	const n, dim = 4000, 16
	r := rand.New(rand.NewPCG(3, 3))
	iso := make([]float32, n*dim)
	line := make([]float32, n*dim)
	for i := range n {
		s := r.NormFloat64()
		for j := range dim {
			iso[i*dim+j] = float32(r.NormFloat64())
			line[i*dim+j] = float32(s * float64(j%3))
		}
	}
	for _, tc := range []struct {
		name       string
		x          []float32
		rlo, rhi   float64
		stdlo, sth float64
	}{
		{"isotropic", iso, 15, 16, 0.9, 1.1},
		{"line", line, 1, 1.0001, 0.74, 0.76},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Diagnose(tc.x, dim)
			if err != nil {
				t.Fatal(err)
			}
			s := c.MeanNormStd * math.Sqrt(dim)
			t.Logf("effective rank %.3f, mean std·√d %.3f", c.EffectiveRank, s)
			if c.EffectiveRank < tc.rlo || c.EffectiveRank > tc.rhi || s < tc.stdlo || s > tc.sth {
				t.Errorf("effective rank %.3f (want [%v, %v]), std·√d %.3f (want [%v, %v])", c.EffectiveRank, tc.rlo, tc.rhi, s, tc.stdlo, tc.sth)
			}
		})
	}
	for _, tc := range []struct {
		sv   []float64
		want float64
	}{
		{[]float64{1, 1, 1, 1}, 4},
		{[]float64{5, 0, 0}, 1},
		{[]float64{0, 0}, 0},
		{[]float64{3, 1}, math.Exp(-(0.75*math.Log(0.75) + 0.25*math.Log(0.25)))},
	} {
		if got := EffectiveRank(tc.sv); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("EffectiveRank(%v) = %v, want %v", tc.sv, got, tc.want)
		}
	}
}

// TestDivergences: identical densities have zero divergence, the
// divergences agree with gonum's on densities without underflow, and
// well-separated classes stay finite where gonum's would not.
func TestDivergences(t *testing.T) {
	x, y := gaussClusters(600, 2, 3, 1.5, 6)
	emb := to64(x)
	g, err := GridFor(emb, 40, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := ClassDensities(emb, y, 3, g)
	if err != nil {
		t.Fatal(err)
	}
	ld = append(ld, ld[0]) // a fourth "class" equal to the first
	d, err := CompareDensities(ld)
	if err != nil {
		t.Fatal(err)
	}
	if d.KL[0][3] != 0 || d.JS[0][3] != 0 || d.SymKL[1][1] != 0 {
		t.Errorf("divergence of a density from itself: KL %v JS %v", d.KL[0][3], d.JS[0][3])
	}
	prob := func(l []float64) []float64 {
		p := make([]float64, len(l))
		var s float64
		for i, v := range l {
			p[i] = math.Exp(v)
			s += p[i]
		}
		for i := range p {
			p[i] /= s
		}
		return p
	}
	kl := stat.KullbackLeibler(prob(ld[0]), prob(ld[1]))
	js := stat.JensenShannon(prob(ld[0]), prob(ld[1]))
	if math.Abs(kl-d.KL[0][1]) > 1e-9*kl || math.Abs(js-d.JS[0][1]) > 1e-9*js || !(js <= math.Ln2) {
		t.Errorf("KL %v JS %v, gonum %v %v", d.KL[0][1], d.JS[0][1], kl, js)
	}
	if d.SymKL[0][1] != d.KL[0][1]+d.KL[1][0] {
		t.Errorf("symmetric KL %v is not the sum of %v and %v", d.SymKL[0][1], d.KL[0][1], d.KL[1][0])
	}
	// two tight clusters far apart: finite divergences, JS near ln 2
	far := []float64{}
	lab := []int{}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 200 {
		c := i % 2
		far = append(far, 100*float64(c)+0.1*r.NormFloat64(), 0.1*r.NormFloat64())
		lab = append(lab, c)
	}
	gf, _ := GridFor(far, 60, 0.05)
	lf, _ := ClassDensities(far, lab, 2, gf)
	df, _ := CompareDensities(lf)
	if math.IsInf(df.KL[0][1], 0) || math.IsNaN(df.JS[0][1]) || math.Abs(df.JS[0][1]-math.Ln2) > 1e-6 {
		t.Errorf("separated classes: KL %v JS %v (want finite, JS = ln 2)", df.KL[0][1], df.JS[0][1])
	}
}

// TestFigures writes the embedding figure and the spectrum plot and checks
// they are non-trivial PNGs (the pictures were inspected by eye when the
// package was written).
func TestFigures(t *testing.T) {
	x, y := gaussClusters(600, 16, 4, 1, 7)
	res, err := TriMap(context.Background(), x, 16, TriMapConfig{Iters: 100})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := GridFor(res.Embedding, 50, 0.05)
	ld, err := ClassDensities(res.Embedding, y, 4, g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fig := &EmbeddingFigure{Title: "TriMap", Embedding: res.Embedding, Labels: y, Classes: 4, Names: []string{"a", "b", "c", "d"}, Grid: g, LogDensities: ld}
	if err := SavePNG(filepath.Join(dir, "trimap.png"), 10*vg.Inch, 5*vg.Inch, fig); err != nil {
		t.Fatal(err)
	}
	c, _ := Diagnose(x, 16)
	sp, err := SpectrumPlot([]string{"clusters"}, []*Collapse{c}, "spectrum")
	if err != nil {
		t.Fatal(err)
	}
	if err := SavePNG(filepath.Join(dir, "spectrum.png"), 6*vg.Inch, 4*vg.Inch, Drawer{sp}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"trimap.png", "spectrum.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() < 20000 {
			t.Errorf("%s: %v, %d bytes", f, err, st.Size())
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	x, _ := gaussClusters(30, 3, 2, 1, 1)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"trimap ragged", func() error { _, err := TriMap(ctx, x[:10], 3, TriMapConfig{}); return err }, "whole number of rows"},
		{"trimap too few", func() error { _, err := TriMap(ctx, x[:30], 3, TriMapConfig{}); return err }, "need at least 18"},
		{"trimap cancelled", func() error { _, err := TriMap(cancelled, x, 3, TriMapConfig{Inliers: 3, Outliers: 2}); return err }, "context canceled"},
		{"trimap temp", func() error { _, err := TriMap(ctx, x, 3, TriMapConfig{WeightTemp: 2}); return err }, "WeightTemp"},
		{"nan", func() error {
			bad := slices.Clone(x)
			bad[7] = float32(math.NaN())
			_, err := Diagnose(bad, 3)
			return err
		}, "row 2: value 1 is not finite"},
		{"labels", func() error { _, err := KNNAccuracy(to64(x), 3, []int{0, 1}, 2, 3); return err }, "2 labels for 30 rows"},
		{"trust k", func() error { _, err := Trustworthiness(x, 3, to64(x), 3, 15); return err }, "k = 15"},
		{"kde one point", func() error { _, err := NewKDE([]float64{1, 2}); return err }, "at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
