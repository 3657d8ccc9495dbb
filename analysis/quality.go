package analysis

import (
	"fmt"
	"slices"

	"github.com/disiam/disiam/internal/linalg"
	"github.com/disiam/disiam/internal/parallel"
)

// Trustworthiness measures how far an embedding's neighbourhoods can be
// trusted (Venna & Kaski, 2001; scikit-learn's
// sklearn.manifold.trustworthiness): with r(i, j) the rank of j among the
// input-space neighbours of i (1 for the nearest) and Uᵢ the k nearest
// neighbours of i in the embedding that are not among its k nearest in the
// input,
//
//	T(k) = 1 − 2/(n·k·(2n − 3k − 1)) · Σᵢ Σ_{j∈Uᵢ} (r(i, j) − k),
//
// which is 1 when every embedded neighbourhood holds only true neighbours.
// x is the input (row-major, n×dim), y the embedding (n×ydim); both use
// Euclidean distances, equal distances ranked by index. k must be below
// n/2. The cost is n² input distances (blocked matrix products) and
// n·log k comparisons per row.
func Trustworthiness(x []float32, dim int, y []float64, ydim, k int) (float64, error) {
	n, err := checkMatrix("trustworthiness input", x, dim)
	if err != nil {
		return 0, err
	}
	ny, err := checkMatrix64("trustworthiness embedding", y, ydim)
	if err != nil {
		return 0, err
	}
	if ny != n {
		return 0, fmt.Errorf("analysis: trustworthiness: %d input rows, %d embedded", n, ny)
	}
	if k < 1 || k >= n/2 {
		return 0, fmt.Errorf("analysis: trustworthiness: k = %d, want in [1, %d)", k, n/2)
	}
	eidx, _, err := Neighbors(y, ydim, k)
	if err != nil {
		return 0, err
	}
	xs := to64(x)
	norms := make([]float64, n)
	for i := range n {
		var s float64
		for _, v := range xs[i*dim : (i+1)*dim] {
			s += v * v
		}
		norms[i] = s
	}
	const block = 64
	penalty := make([]float64, parallel.Chunks(n, block))
	parallel.For(n, block, func(lo, hi int) {
		m := hi - lo
		s := make([]float64, m*n)
		linalg.Gemm(false, true, m, n, dim, 1, xs[lo*dim:hi*dim], dim, xs, dim, 0, s, n)
		type target struct {
			d float64
			j int
		}
		ts := make([]target, k)
		cnt := make([]int, k+1)
		var sum float64
		for q := range m {
			i := lo + q
			row := s[q*n : (q+1)*n]
			for l := range row {
				row[l] = norms[i] + norms[l] - 2*row[l]
			}
			for a, j := range eidx[i*k : (i+1)*k] {
				ts[a] = target{row[j], int(j)}
			}
			slices.SortFunc(ts, func(a, b target) int {
				switch {
				case a.d < b.d:
					return -1
				case a.d > b.d:
					return 1
				}
				return a.j - b.j
			})
			// cnt[a] counts the points that rank before targets a, a+1,
			// ... but not before a-1: a is the number of targets before
			// the point (plus one for a target itself, so that it does
			// not count towards its own rank).
			clear(cnt)
			for l, d := range row {
				if l == i {
					continue
				}
				a, _ := slices.BinarySearchFunc(ts, target{d, l}, func(t, u target) int {
					switch {
					case t.d < u.d:
						return -1
					case t.d > u.d:
						return 1
					}
					return t.j - u.j
				})
				if a < k && ts[a].j == l {
					a++
				}
				cnt[a]++
			}
			// rank(ts[a]) = 1 + #{l ≠ i: l before ts[a]}
			before := 0
			for a := range k {
				before += cnt[a]
				if rank := before + 1; rank > k {
					sum += float64(rank - k)
				}
			}
		}
		penalty[lo/block] = sum
	})
	var total float64
	for _, p := range penalty {
		total += p
	}
	nf, kf := float64(n), float64(k)
	return 1 - 2/(nf*kf*(2*nf-3*kf-1))*total, nil
}

// KNNAccuracy is the leave-one-out accuracy of the majority vote of each
// row's k nearest neighbours (Euclidean, the row itself excluded) in x
// (row-major, n×dim): the usual score of how well an embedding keeps
// classes together. A tie between classes goes to the class of the
// nearest neighbour among them.
func KNNAccuracy(x []float64, dim int, labels []int, classes, k int) (float64, error) {
	n, err := checkMatrix64("kNN accuracy input", x, dim)
	if err != nil {
		return 0, err
	}
	if err := checkLabels(labels, n, classes); err != nil {
		return 0, err
	}
	if k < 1 || k >= n {
		return 0, fmt.Errorf("analysis: kNN accuracy: k = %d, want in [1, %d)", k, n)
	}
	idx, _, err := Neighbors(x, dim, k)
	if err != nil {
		return 0, err
	}
	correct := 0
	votes := make([]int, classes)
	for i := range n {
		clear(votes)
		best, bestVotes := -1, 0
		for _, j := range idx[i*k : (i+1)*k] {
			votes[labels[j]]++
		}
		for _, j := range idx[i*k : (i+1)*k] { // nearest first: ties go to the nearest
			c := labels[j]
			if votes[c] > bestVotes {
				best, bestVotes = c, votes[c]
			}
		}
		if best == labels[i] {
			correct++
		}
	}
	return float64(correct) / float64(n), nil
}
