package ssl

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/disiam/disiam/nn"
)

// Losses are small functions from embeddings to a scalar node. They take
// [N, D] nodes (N samples, D features, any float dtype), add a few
// custom-op nodes to the embeddings' graph and return the scalar loss, in
// the normalized scale of the package documentation (see "Loss scale").
// Shape mismatches are programmer mistakes and panic with an "nn:" or
// "ssl:" message (wrap graph building in nn.Build to get an error).
//
// Where a loss compares predictions with targets, the stop-gradient is
// visible in its composition: the function wraps each target in
// nn.StopGradient itself, and its documentation says so. Nothing is hidden
// in a forward pass.

// NTXent returns the NT-Xent (normalized temperature-scaled cross-entropy,
// also called InfoNCE) loss of SimCLR (thesis Eq. 3.1, Algorithm 1) for the
// projections z1 and z2 [N, D] of two views of the same N images:
//
//	ℓ(i, j) = -log( exp(sim(z_i, z_j)/τ) / Σ_{k≠i} exp(sim(z_i, z_k)/τ) )
//
// over the 2N samples [z1; z2], where the positive of row i of z1 is row i
// of z2 and vice versa, the other 2(N-1) samples are the negatives, and
// sim is the cosine similarity. The result is the mean over the 2N anchors,
// exactly as peers/bench.py's SimCLR and lightly's NTXentLoss: the
// cross-entropy of normalize(z) normalize(z)ᵀ/τ with the diagonal masked.
// peers/bench.py uses τ = 0.5, lightly's NTXentLoss default. It panics
// unless temperature > 0.
func NTXent(z1, z2 *G.Node, temperature float64) *G.Node {
	if !(temperature > 0) {
		panic(fmt.Sprintf("ssl: NTXent: temperature %v, want > 0", temperature))
	}
	return nn.Apply(&ntXent{tau: temperature}, z1, z2)
}

// NegativeCosine returns -(1/N) Σ_i cos(p_i, z_i) for [N, D] nodes p and
// z, differentiable with respect to both (lightly's
// NegativeCosineSimilarity). The cosine is computed as torch's
// (normalize(p) * normalize(z)).sum(1), each row divided by
// max(‖row‖, 1e-12). Range [-1, 1]. Use D for the stop-gradient form that
// the negative-sample-free methods need.
func NegativeCosine(p, z *G.Node) *G.Node {
	return nn.Apply(newCosineLoss(cosineLoss{name: "NegativeCosine", scale: -1, diffZ: true}), p, z)
}

// D is the negative cosine similarity of thesis Eq. 3.2, averaged over the
// batch, with the stop-gradient of SimSiam, BYOL, DYOL and DiSiam on the
// target:
//
//	D(p, z) = -(1/N) Σ_i cos(p_i, sg(z_i)),   range [-1, 1],
//
// that is NegativeCosine(p, nn.StopGradient(z)). No gradient reaches z or
// anything z was computed from through this term (the kernel is also built
// non-differentiable in its second input, so no dead gradient node is
// added to the graph).
func D(p, z *G.Node) *G.Node {
	return nn.Apply(newCosineLoss(cosineLoss{name: "D", scale: -1}), p, nn.StopGradient(z))
}

// SymmetricD returns SimSiam's symmetrized loss in the normalized scale:
//
//	L = ½ D(p1, sg(z2)) + ½ D(p2, sg(z1)),   range [-1, 1],
//
// for predictions p1, p2 and projections z1, z2 of two views. The thesis'
// Algorithms 3, 5 and 6 sum the two terms (range [-2, 2]): the same
// objective times two, so its gradients are twice these (see "Loss scale"
// in the package documentation).
func SymmetricD(p1, p2, z1, z2 *G.Node) *G.Node {
	return Mean(D(p1, z2), D(p2, z1))
}

// Targets selects how the multi-view losses pair predictions with targets.
type Targets int

const (
	// PairwiseTargets compares every prediction with every other view's
	// target: 1/(M(M-1)) Σ_{j≠k} D(p_j, sg(z_k)), thesis Algorithms 4
	// (FastSiam) and 7 (DiSiam+), reading Algorithm 7's t(x_i) as the
	// j-th view t^(j)(x_i). This is the default.
	PairwiseTargets Targets = iota
	// MeanTargets compares each prediction with the mean of the other
	// views' targets, one term per view: (1/M) Σ_j D(p_j, sg(z̄_j)) with
	// z̄_j = 1/(M-1) Σ_{k≠j} z_k, as lightly's FastSiam example does
	// (averaging the targets first stabilizes them, FastSiam's point).
	MeanTargets
)

// String returns the constant's name.
func (t Targets) String() string {
	switch t {
	case PairwiseTargets:
		return "pairwise"
	case MeanTargets:
		return "mean"
	}
	return fmt.Sprintf("Targets(%d)", int(t))
}

// MultiViewD returns the multi-view negative-cosine loss of M ≥ 2 views,
// with predictions ps[j] and projections zs[j] of view j, in the
// normalized scale (range [-1, 1]); every target passes through
// nn.StopGradient. With PairwiseTargets (thesis Algorithms 4 and 7) it is
//
//	1/(M(M-1)) Σ_{j≠k} D(p_j, sg(z_k)),
//
// with MeanTargets (lightly's FastSiam) (1/M) Σ_j D(p_j, sg(mean_{k≠j} z_k)).
// For M = 2 both equal SymmetricD(ps[0], ps[1], zs[0], zs[1]).
func MultiViewD(ps, zs []*G.Node, targets Targets) *G.Node {
	m := len(ps)
	if m < 2 || len(zs) != m {
		panic(fmt.Sprintf("ssl: MultiViewD: %d predictions and %d targets, want M ≥ 2 of each", len(ps), len(zs)))
	}
	sg := make([]*G.Node, m)
	for k, z := range zs {
		sg[k] = nn.StopGradient(z)
	}
	var terms []*G.Node
	switch targets {
	case PairwiseTargets:
		for j := range ps {
			for k := range sg {
				if j != k {
					terms = append(terms, nn.Apply(newCosineLoss(cosineLoss{name: "D", scale: -1}), ps[j], sg[k]))
				}
			}
		}
	case MeanTargets:
		for j := range ps {
			var others []*G.Node
			for k := range sg {
				if k != j {
					others = append(others, sg[k])
				}
			}
			terms = append(terms, nn.Apply(newCosineLoss(cosineLoss{name: "D", scale: -1}), ps[j], Mean(others...)))
		}
	default:
		panic(fmt.Sprintf("ssl: MultiViewD: unknown %v", targets))
	}
	return Mean(terms...)
}

// NormalizedMSE returns BYOL's regression loss (BYOL Eq. 2), the mean
// squared distance of the L2-normalized rows,
//
//	(1/N) Σ_i ‖p̂_i - ẑ_i‖² = 2 - 2·(1/N) Σ_i cos(p_i, z_i),   range [0, 4],
//
// differentiable with respect to both inputs (compose with nn.StopGradient,
// or use BYOLLoss).
func NormalizedMSE(p, z *G.Node) *G.Node {
	return nn.Apply(newCosineLoss(cosineLoss{name: "NormalizedMSE", offset: 2, scale: -2, diffZ: true}), p, z)
}

// BYOLLoss returns BYOL's symmetrized loss (thesis Algorithm 2) for the
// online predictions p1, p2 of two views and the target network's
// projections t1, t2 of the same views, in the normalized scale:
//
//	L = ½ NormalizedMSE(p1, sg(t2)) + ½ NormalizedMSE(p2, sg(t1)),   range [0, 4].
//
// The BYOL paper sums the two terms (L + L̃), twice this; equivalently
// L = 2 + 2·SymmetricD(p1, p2, t1, t2). The targets pass through
// nn.StopGradient (the target network is updated only by EMA).
func BYOLLoss(p1, p2, t1, t2 *G.Node) *G.Node {
	a := nn.Apply(newCosineLoss(cosineLoss{name: "NormalizedMSE", offset: 2, scale: -2}), p1, nn.StopGradient(t2))
	b := nn.Apply(newCosineLoss(cosineLoss{name: "NormalizedMSE", offset: 2, scale: -2}), p2, nn.StopGradient(t1))
	return Mean(a, b)
}

// DiSiamLoss returns the loss of DiSiam (thesis Eq. 3.3-3.5, Algorithm 6;
// M = 2 views) and DiSiam+ (Algorithm 7; M ≥ 2 views) in the normalized
// scale:
//
//	L = (D_online + D_assistant)/2,
//	D_online    = MultiViewD(online, targets, t),
//	D_assistant = MultiViewD(assistant, targets, t),
//
// where online[j] and assistant[j] are the online and assistant
// predictions of view j (each network through its own predictor, as Eq.
// 3.4 defines the assistant loss; Algorithm 6 line 9 prints the online
// predictor) and targets[j] the assistant's projection of view j, which
// passes through nn.StopGradient (DiSiam's target shares the assistant's
// weights, Section 3.3.1). For M = 2 each term is
// ½ D(p1, sg(z2)) + ½ D(p2, sg(z1)), half the thesis' sum (see "Loss
// scale"). DYOL (Algorithm 5) has the same loss with targets from its EMA
// target network.
func DiSiamLoss(online, assistant, targets []*G.Node, t Targets) *G.Node {
	if len(online) != len(assistant) {
		panic(fmt.Sprintf("ssl: DiSiamLoss: %d online and %d assistant predictions", len(online), len(assistant)))
	}
	return Mean(MultiViewD(online, targets, t), MultiViewD(assistant, targets, t))
}

// Mean returns the element-wise mean of nodes of equal shape (typically
// scalar loss terms), differentiable in each.
func Mean(xs ...*G.Node) *G.Node {
	if len(xs) == 0 {
		panic("ssl: Mean of no nodes")
	}
	w := make([]float64, len(xs))
	for i := range w {
		w[i] = 1 / float64(len(xs))
	}
	return WeightedSum(w, xs...)
}

// WeightedSum returns Σ_i w[i]·xs[i] for nodes of equal shape,
// differentiable in each. The kernel reads w each time the graph runs, so
// a caller that keeps w and changes its elements between runs (a loss
// weight schedule, such as soft chaining's mix of a contrastive and a
// negative-free term) changes the weights of later forward and backward
// passes without rebuilding the graph; len(w) must stay len(xs).
func WeightedSum(w []float64, xs ...*G.Node) *G.Node {
	if len(xs) == 0 || len(w) != len(xs) {
		panic(fmt.Sprintf("ssl: WeightedSum: %d weights for %d nodes", len(w), len(xs)))
	}
	return nn.Apply(weightedSum{w: w, dims: xs[0].Dims()}, xs...)
}

// L2Normalize returns the rows of x [N, D] divided by their L2 norms,
// max(‖x_i‖, 1e-12), as torch.nn.functional.normalize(x, dim=1);
// differentiable.
func L2Normalize(x *G.Node) *G.Node { return nn.Apply(l2Normalize{}, x) }

// newCosineLoss gives k its row buffer.
func newCosineLoss(k cosineLoss) cosineLoss {
	k.cos = new([]float64)
	return k
}
