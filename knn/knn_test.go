package knn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/disiam/disiam/internal/parallel"
	"github.com/disiam/disiam/nn/nntest"
)

type goldenKNN struct {
	Train struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"train"`
	Test struct {
		Name  string `json:"name"`
		Shape []int  `json:"shape"`
	} `json:"test"`
	K                  int         `json:"k"`
	Tau                float64     `json:"tau"`
	Classes            int         `json:"classes"`
	Scores             [][]float64 `json:"scores"`
	Top5               [][]int     `json:"top5"`
	TrainLabelsFirst20 []int       `json:"train_labels_first20"`
}

func loadGolden(t *testing.T) goldenKNN {
	t.Helper()
	b, err := os.ReadFile("testdata/knn.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenKNN
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("testdata/knn.json: %v", err)
	}
	return g
}

// ruleMatrix returns the golden rule's values r for a tensor named name.
func ruleMatrix(name string, rows, cols int) []float32 {
	v := nntest.RuleValues(name, rows*cols)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x) // exact: r has 24 significant bits
	}
	return out
}

// ruleLabels returns splitmix64(fnv1a64(name) + i) % classes.
func ruleLabels(name string, n, classes int) []int {
	seed := nntest.FNV1a64(name)
	out := make([]int, n)
	for i := range out {
		out[i] = int(nntest.SplitMix64(seed+uint64(i)) % uint64(classes))
	}
	return out
}

func TestGolden(t *testing.T) {
	g := loadGolden(t)
	ntr, d := g.Train.Shape[0], g.Train.Shape[1]
	nte := g.Test.Shape[0]
	bank := ruleMatrix(g.Train.Name, ntr, d)
	queries := ruleMatrix(g.Test.Name, nte, d)
	labels := ruleLabels("knn_train_labels", ntr, g.Classes)
	if !slices.Equal(labels[:20], g.TrainLabelsFirst20) {
		t.Fatalf("label rule: first 20 %v, golden %v", labels[:20], g.TrainLabelsFirst20)
	}
	c, err := NewClassifier(bank, d, labels, g.Classes, Config{K: g.K, Tau: g.Tau})
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			defer func(w int) { parallel.Workers = w }(parallel.Workers)
			parallel.Workers = workers
			scores, err := c.Scores(queries)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i := range nte {
				for j := range g.Classes {
					got, want := scores[i*g.Classes+j], g.Scores[i][j]
					rel := math.Abs(got-want) / math.Abs(want)
					if want == 0 {
						rel = math.Abs(got)
					}
					worst = max(worst, rel)
					if !(rel <= 1e-6) {
						t.Errorf("query %d class %d: score %.10g, golden %.10g (rel. err. %.2g)", i, j, got, want, rel)
					}
				}
			}
			t.Logf("largest relative score error %.3g", worst)
			top5, err := c.Predict(queries, 5)
			if err != nil {
				t.Fatal(err)
			}
			for i := range nte {
				if got := top5[i*5 : i*5+5]; !slices.Equal(got, g.Top5[i]) {
					t.Errorf("query %d: top-5 %v, golden %v", i, got, g.Top5[i])
				}
			}
		})
	}
}

// bruteForce is the reference rule written the simple way: every
// similarity in float64 (of the features normalized to float32, as the
// classifier stores them), a full stable sort, weights in float64.
func bruteForce(bank []float32, labels []int, q []float32, dim, classes, k int, tau float64) (scores []float64, nbr [][]int) {
	norm := func(x []float32) []float64 {
		out := make([]float64, len(x))
		for r := 0; r < len(x)/dim; r++ {
			var s float64
			for _, v := range x[r*dim : (r+1)*dim] {
				s += float64(v) * float64(v)
			}
			n := max(math.Sqrt(s), 1e-12)
			for i := range dim {
				out[r*dim+i] = float64(float32(float64(x[r*dim+i]) / n))
			}
		}
		return out
	}
	b, qq := norm(bank), norm(q)
	n, nq := len(bank)/dim, len(q)/dim
	k = min(k, n)
	scores = make([]float64, nq*classes)
	for i := range nq {
		sim := make([]float64, n)
		ord := make([]int, n)
		for j := range n {
			var s float64
			for t := range dim {
				s += qq[i*dim+t] * b[j*dim+t]
			}
			sim[j] = s
			ord[j] = j
		}
		sort.SliceStable(ord, func(a, c int) bool { return sim[ord[a]] > sim[ord[c]] })
		nbr = append(nbr, ord[:k])
		for _, j := range ord[:k] {
			scores[i*classes+labels[j]] += math.Exp(sim[j] / tau)
		}
	}
	return scores, nbr
}

func randLabels(seed uint64, n, classes int) []int {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]int, n)
	for i := range out {
		out[i] = r.IntN(classes)
	}
	return out
}

// TestAgainstBruteForce compares every output with the simple rule, on
// sizes that leave partial query and bank blocks and a K above the bank
// size.
func TestAgainstBruteForce(t *testing.T) {
	for _, tc := range []struct {
		name                string
		n, nq, dim, classes int
		k                   int
		tau                 float64
	}{
		{"small", 50, 7, 5, 3, 10, 0.1},
		{"k above bank", 30, 4, 8, 4, 200, 0.1},
		{"partial blocks", bankBlock + 300, maxQueryBlock + 37, 16, 10, 200, 0.1},
		{"large k, small query blocks", 3000, 400, 8, 7, 3000, 0.2},
		{"k=1 tau=0.5", 300, 20, 3, 6, 1, 0.5},
		{"many classes", 400, 25, 12, 100, 20, 0.07},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bank := gaussian(11, tc.n*tc.dim)
			q := gaussian(12, tc.nq*tc.dim)
			labels := randLabels(13, tc.n, tc.classes)
			qlabels := randLabels(14, tc.nq, tc.classes)
			bankCopy, qCopy := slices.Clone(bank), slices.Clone(q)
			c, err := NewClassifier(bank, tc.dim, labels, tc.classes, Config{K: tc.k, Tau: tc.tau})
			if err != nil {
				t.Fatal(err)
			}
			wantScores, wantNbr := bruteForce(bank, labels, q, tc.dim, tc.classes, tc.k, tc.tau)
			scores, err := c.Scores(q)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range wantScores {
				if got := scores[i]; math.Abs(got-want) > 1e-12*math.Abs(want) {
					t.Fatalf("score[%d] = %.15g, want %.15g", i, got, want)
				}
			}
			k := min(tc.k, tc.n)
			idx, sim, err := c.Neighbours(q)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.nq {
				if got := idx[i*k : (i+1)*k]; !slices.Equal(got, wantNbr[i]) {
					t.Fatalf("query %d: neighbours %v, want %v", i, got, wantNbr[i])
				}
				for j := 1; j < k; j++ {
					if sim[i*k+j] > sim[i*k+j-1] {
						t.Fatalf("query %d: similarities not decreasing at %d: %v", i, j, sim[i*k:(i+1)*k])
					}
				}
			}
			top := min(5, tc.classes)
			pred, err := c.Predict(q, 5)
			if err != nil {
				t.Fatal(err)
			}
			c1, c5 := 0, 0
			support := make([]int, tc.classes)
			correct := make([]int, tc.classes)
			for i := range tc.nq {
				s := wantScores[i*tc.classes : (i+1)*tc.classes]
				ord := make([]int, tc.classes)
				for j := range ord {
					ord[j] = j
				}
				sort.SliceStable(ord, func(a, b int) bool { return s[ord[a]] > s[ord[b]] })
				if got := pred[i*top : (i+1)*top]; !slices.Equal(got, ord[:top]) {
					t.Fatalf("query %d: predictions %v, want %v (scores %v)", i, got, ord[:top], s)
				}
				support[qlabels[i]]++
				if ord[0] == qlabels[i] {
					c1++
					correct[qlabels[i]]++
				}
				if slices.Contains(ord[:top], qlabels[i]) {
					c5++
				}
			}
			res, err := c.Evaluate(q, qlabels)
			if err != nil {
				t.Fatal(err)
			}
			if res.Correct1 != c1 || res.Correct5 != c5 || res.Queries != tc.nq ||
				res.Top1 != float64(c1)/float64(tc.nq) || res.Top5 != float64(c5)/float64(tc.nq) {
				t.Fatalf("Evaluate = %+v, want %d/%d top-1, %d top-5", res, c1, tc.nq, c5)
			}
			if !slices.Equal(res.Support, support) {
				t.Fatalf("Support = %v, want %v", res.Support, support)
			}
			for j := range tc.classes {
				want := 0.0
				if support[j] > 0 {
					want = float64(correct[j]) / float64(support[j])
				}
				if res.PerClass[j] != want {
					t.Fatalf("PerClass[%d] = %v, want %v", j, res.PerClass[j], want)
				}
			}
			if !slices.Equal(bank, bankCopy) || !slices.Equal(q, qCopy) {
				t.Fatal("inputs were modified")
			}
		})
	}
}

// TestTiesByIndex uses features whose similarities are exactly 0 or 1, so
// that most neighbours tie: they must rank by bank index, like a stable
// sort, whatever the block structure.
func TestTiesByIndex(t *testing.T) {
	const dim, n = 4, bankBlock + 500
	bank := make([]float32, n*dim)
	labels := make([]int, n)
	for i := range n {
		bank[i*dim+i%dim] = float32(1 + i%3) // norms differ, directions tie
		labels[i] = i % 5
	}
	q := []float32{0, 0, 2, 0, 0, 0, 0, 0}
	c, err := NewClassifier(bank, dim, labels, 5, Config{K: 300})
	if err != nil {
		t.Fatal(err)
	}
	idx, sim, err := c.Neighbours(q)
	if err != nil {
		t.Fatal(err)
	}
	// Query 0: the rows with i%4 == 2 (similarity 1) first, in order, then
	// the others (similarity 0) by index.
	var want []int
	for i := 2; i < n && len(want) < 300; i += 4 {
		want = append(want, i)
	}
	ones := len(want)
	for i := 0; len(want) < 300; i++ {
		if i%4 != 2 {
			want = append(want, i)
		}
	}
	if !slices.Equal(idx[:300], want) {
		t.Errorf("query 0: neighbours %v..., want %v...", idx[:12], want[:12])
	}
	if sim[0] != 1 || sim[ones-1] != 1 {
		t.Errorf("query 0: similarities %v, want 1", sim[:ones])
	}
	// Query 1 is the zero vector: every similarity is 0 and the first 300
	// rows are the neighbours.
	for j := range 300 {
		if idx[300+j] != j || sim[300+j] != 0 {
			t.Fatalf("zero query: neighbour %d is %d (sim %v), want %d (0)", j, idx[300+j], sim[300+j], j)
		}
	}
	// Equal class scores rank by class index.
	pred, err := c.Predict(q[4:], 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(pred, want) {
		t.Errorf("zero query: classes %v, want %v", pred, want)
	}
}

func TestRankInto(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    []float64
		n    int
		want []int
	}{
		{"descending", []float64{1, 5, 3, 4, 2}, 3, []int{1, 3, 2}},
		{"ties by index", []float64{2, 7, 2, 7, 2}, 4, []int{1, 3, 0, 2}},
		{"all", []float64{0, 0, 1}, 3, []int{2, 0, 1}},
		{"one", []float64{3, 9, 9}, 1, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]int, tc.n)
			rankInto(got, tc.s)
			if !slices.Equal(got, tc.want) {
				t.Errorf("rankInto(%v) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, k := range []int{1, 2, 7, 64} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			h := newTopK(k)
			for trial := range 20 {
				n := 1 + r.IntN(1500)
				s := make([]float32, n)
				for i := range s {
					s[i] = float32(r.IntN(20)) // many ties
				}
				h.reset()
				for lo := 0; lo < n; lo += 37 { // in pieces, like bank blocks
					h.pushAll(s[lo:min(lo+37, n)], int32(lo))
				}
				h.finish(true)
				ord := make([]int, n)
				for i := range ord {
					ord[i] = i
				}
				sort.SliceStable(ord, func(a, b int) bool { return s[ord[a]] > s[ord[b]] })
				want := ord[:min(k, n)]
				got := make([]int, h.n)
				for i := range got {
					got[i] = int(h.idx[i])
				}
				if !slices.Equal(got, want) {
					t.Fatalf("trial %d: %v, want %v", trial, got, want)
				}
			}
		})
	}
}

// TestWorkersIndependent checks bit-identical scores for any worker count.
func TestWorkersIndependent(t *testing.T) {
	defer func(w int) { parallel.Workers = w }(parallel.Workers)
	const n, nq, dim, classes = 3000, 1200, 24, 10
	bank := gaussian(21, n*dim)
	q := gaussian(22, nq*dim)
	c, err := NewClassifier(bank, dim, randLabels(23, n, classes), classes, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ref []float64
	for _, w := range []int{1, 2, 5} {
		parallel.Workers = w
		s, err := c.Scores(q)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = s
		} else if !slices.Equal(s, ref) {
			t.Fatalf("workers=%d: scores differ from workers=1", w)
		}
	}
}

func TestErrors(t *testing.T) {
	ok := []float32{1, 0, 0, 1}
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name    string
		bank    []float32
		dim     int
		labels  []int
		classes int
		cfg     Config
		want    string
	}{
		{"zero dim", ok, 0, []int{0, 1}, 2, Config{}, "dim = 0"},
		{"ragged", ok[:3], 2, []int{0, 1}, 2, Config{}, "whole number of rows"},
		{"empty", nil, 2, nil, 2, Config{}, "empty"},
		{"label count", ok, 2, []int{0}, 2, Config{}, "1 labels for 2 rows"},
		{"label range", ok, 2, []int{0, 2}, 2, Config{}, "row 1: label 2 outside [0, 2)"},
		{"negative label", ok, 2, []int{-1, 0}, 2, Config{}, "row 0: label -1"},
		{"no classes", ok, 2, []int{0, 0}, 0, Config{}, "classes = 0"},
		{"nan", []float32{1, 0, nan, 1}, 2, []int{0, 1}, 2, Config{}, "row 1: feature is not finite"},
		{"inf", []float32{float32(math.Inf(1)), 0, 0, 1}, 2, []int{0, 1}, 2, Config{}, "row 0: feature is not finite"},
		{"negative k", ok, 2, []int{0, 1}, 2, Config{K: -3}, "K = -3"},
		{"negative tau", ok, 2, []int{0, 1}, 2, Config{Tau: -1}, "Tau = -1"},
		{"nan tau", ok, 2, []int{0, 1}, 2, Config{Tau: math.NaN()}, "Tau = NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewClassifier(tc.bank, tc.dim, tc.labels, tc.classes, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	c, err := NewClassifier(ok, 2, []int{0, 1}, 2, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		q      []float32
		labels []int
		want   string
	}{
		{"ragged", []float32{1, 2, 3}, []int{0}, "whole number of rows"},
		{"label count", []float32{1, 2}, []int{0, 1}, "2 labels for 1 rows"},
		{"label range", []float32{1, 2}, []int{5}, "row 0: label 5"},
		{"nan", []float32{1, 2, 3, nan}, []int{0, 1}, "row 1: feature is not finite"},
	} {
		t.Run("queries "+tc.name, func(t *testing.T) {
			_, err := c.Evaluate(tc.q, tc.labels)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
