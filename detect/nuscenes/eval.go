package nuscenes

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// TPNames are the true-positive error metrics in the devkit's order:
// translation (ATE), scale (ASE), orientation (AOE), velocity (AVE) and
// attribute (AAE) errors.
var TPNames = [5]string{"trans_err", "scale_err", "orient_err", "vel_err", "attr_err"}

// Config is the detection evaluation configuration; DefaultConfig is the
// devkit's detection_cvpr_2019.
type Config struct {
	// ClassRange is the largest ego distance evaluated per class; boxes at
	// or beyond it are dropped. Nil disables the range filter.
	ClassRange map[string]float64
	// DistThs are the matching distances of AP, metres.
	DistThs []float64
	// DistThTP is the matching distance of the TP errors; it must be one
	// of DistThs.
	DistThTP float64
	// MinRecall and MinPrecision clip the precision–recall curve.
	MinRecall, MinPrecision float64
	// MeanAPWeight is mAP's weight in NDS.
	MeanAPWeight float64
	// MaxBoxesPerSample is the most predictions a sample may have.
	MaxBoxesPerSample int
	// Classes are the evaluated classes (evaluated in DetectionNames
	// order); empty means all ten. The devkit evaluates the keys of its class_range, so
	// a configuration restricted to the classes a data set has (the five
	// of synth.SyntheticDriving) averages mAP and the TP errors over those
	// only; predictions of other classes are ignored.
	Classes []string
}

// DefaultConfig returns detection_cvpr_2019: class ranges 50 m (vehicles),
// 40 m (pedestrian, motorcycle, bicycle) and 30 m (traffic cone,
// barrier), distances {0.5, 1, 2, 4} m, TP errors at 2 m, min recall and
// precision 0.1, mAP weight 5, at most 500 boxes per sample.
func DefaultConfig() Config {
	return Config{
		ClassRange: map[string]float64{
			"car": 50, "truck": 50, "bus": 50, "trailer": 50, "construction_vehicle": 50,
			"pedestrian": 40, "motorcycle": 40, "bicycle": 40, "traffic_cone": 30, "barrier": 30,
		},
		DistThs:           []float64{0.5, 1, 2, 4},
		DistThTP:          2,
		MinRecall:         0.1,
		MinPrecision:      0.1,
		MeanAPWeight:      5,
		MaxBoxesPerSample: 500,
	}
}

// ClassMetrics are one class's results.
type ClassMetrics struct {
	Name string
	// AP at each Config.DistThs.
	AP []float64
	// MeanAP is AP averaged over the distances.
	MeanAP float64
	// TP are the errors of TPNames at Config.DistThTP; NaN where the devkit
	// leaves them undefined (traffic_cone: orientation, velocity,
	// attribute; barrier: velocity, attribute), 1 when the class has no
	// match beyond the minimum recall.
	TP [5]float64
}

// Metrics are the results of Evaluate.
type Metrics struct {
	Config Config
	// Classes in DetectionNames order (Config.Classes only).
	Classes []ClassMetrics
	// MAP is the mean over classes of MeanAP.
	MAP float64
	// TPErrors are the class means of TP, NaNs left out (mATE ... mAAE).
	TPErrors [5]float64
	// TPScores are max(0, 1 − TPErrors).
	TPScores [5]float64
	// NDS is (MeanAPWeight·MAP + ΣTPScores)/(MeanAPWeight + 5).
	NDS float64
}

// Class returns the metrics of a class by name.
func (m *Metrics) Class(name string) (ClassMetrics, bool) {
	for _, c := range m.Classes {
		if c.Name == name {
			return c, true
		}
	}
	return ClassMetrics{}, false
}

// String formats the summary as the devkit prints it.
func (m *Metrics) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mAP: %.4f\n", m.MAP)
	for i, n := range []string{"mATE", "mASE", "mAOE", "mAVE", "mAAE"} {
		fmt.Fprintf(&b, "%s: %.4f\n", n, m.TPErrors[i])
	}
	fmt.Fprintf(&b, "NDS: %.4f\n", m.NDS)
	fmt.Fprintf(&b, "%-22s %6s %6s %6s %6s %6s %6s\n", "Object Class", "AP", "ATE", "ASE", "AOE", "AVE", "AAE")
	for _, c := range m.Classes {
		fmt.Fprintf(&b, "%-22s %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f\n", c.Name, c.MeanAP, c.TP[0], c.TP[1], c.TP[2], c.TP[3], c.TP[4])
	}
	return b.String()
}

// metricData is the devkit's DetectionMetricData: 101 points of the
// precision–recall curve and the TP errors on it.
type metricData struct {
	precision, confidence [101]float64
	errs                  [5][101]float64
}

func noPredictions() *metricData {
	md := &metricData{}
	for e := range md.errs {
		for i := range md.errs[e] {
			md.errs[e][i] = 1
		}
	}
	return md
}

// sampleBoxes groups boxes by sample, keeping the order in which samples
// first appear and the order within a sample (the devkit's EvalBoxes).
type sampleBoxes struct {
	order []string
	boxes map[string][]Box
}

func group(bs []Box) sampleBoxes {
	s := sampleBoxes{boxes: map[string][]Box{}}
	for _, b := range bs {
		if _, ok := s.boxes[b.Sample]; !ok {
			s.order = append(s.order, b.Sample)
		}
		s.boxes[b.Sample] = append(s.boxes[b.Sample], b)
	}
	return s
}

func (s sampleBoxes) all() []Box {
	var out []Box
	for _, k := range s.order {
		out = append(out, s.boxes[k]...)
	}
	return out
}

// filter is the devkit's filter_eval_boxes: class range, then (ground
// truth) boxes without points and bikes in bike racks.
func (s sampleBoxes) filter(cfg Config, gt bool) sampleBoxes {
	out := sampleBoxes{order: s.order, boxes: map[string][]Box{}}
	for _, k := range s.order {
		var kept []Box
		for _, b := range s.boxes[k] {
			if cfg.ClassRange != nil && !(b.EgoDist() < cfg.ClassRange[b.Name]) {
				continue
			}
			if gt && (b.NoPoints || (b.InBikeRack && (b.Name == "bicycle" || b.Name == "motorcycle"))) {
				continue
			}
			kept = append(kept, b)
		}
		out.boxes[k] = kept
	}
	return out
}

// Evaluate computes the nuScenes detection metrics exactly as the devkit's
// DetectionEval does (algo.accumulate, calc_ap, calc_tp, DetectionMetrics):
//
//   - Boxes beyond their class range are dropped (predictions and ground
//     truth), and so are ground truths marked NoPoints or, for bicycles
//     and motorcycles, InBikeRack.
//   - For each class and matching distance d, predictions are taken by
//     descending score (ties: the later one first, as the devkit's
//     sorted((score, index))[::-1]); each matches the nearest unmatched
//     ground truth of its class in its sample by BEV centre distance, if
//     that distance is < d.
//   - Precision and recall are resampled at recall 0, 0.01, ..., 1 by
//     linear interpolation (numpy.interp, 0 beyond the highest recall,
//     no envelope); AP = mean(max(precision[r > MinRecall] − MinPrecision,
//     0))/(1 − MinPrecision).
//   - At DistThTP, each TP error's running mean over the matches is
//     interpolated onto the curve's confidences and averaged from recall
//     MinRecall+0.01 to the highest recall reached; 1 if that range is
//     empty. ATE is the BEV centre distance, ASE 1 − IoU of the sizes
//     aligned at the centre, AOE the smallest yaw difference (period π for
//     barriers), AVE the L2 velocity difference, AAE 1 − attribute
//     accuracy (ground truths without attribute are left out).
//   - A class without ground truth has AP 0 and TP errors 1; the errors the
//     devkit leaves undefined are NaN and left out of the means.
//
// Predictions are grouped by sample in order of first appearance (the
// submission's order), which only matters for score ties. A prediction
// that fails Box.Check, or a sample with more than MaxBoxesPerSample
// predictions, is an error.
func Evaluate(gt, pred []Box, cfg Config) (*Metrics, error) {
	if !slices.Contains(cfg.DistThs, cfg.DistThTP) {
		return nil, fmt.Errorf("nuscenes: DistThTP %v is not one of DistThs %v", cfg.DistThTP, cfg.DistThs)
	}
	if !(cfg.MinPrecision >= 0 && cfg.MinPrecision < 1 && cfg.MinRecall >= 0 && cfg.MinRecall <= 1) {
		return nil, fmt.Errorf("nuscenes: MinRecall %v / MinPrecision %v outside [0, 1]", cfg.MinRecall, cfg.MinPrecision)
	}
	for i, b := range gt {
		if err := b.Check(false); err != nil {
			return nil, fmt.Errorf("nuscenes: ground truth %d (sample %q): %w", i, b.Sample, err)
		}
	}
	for i, b := range pred {
		if err := b.Check(true); err != nil {
			return nil, fmt.Errorf("nuscenes: prediction %d (sample %q): %w", i, b.Sample, err)
		}
	}
	gs, ps := group(gt), group(pred)
	if cfg.MaxBoxesPerSample > 0 {
		for _, k := range ps.order {
			if n := len(ps.boxes[k]); n > cfg.MaxBoxesPerSample {
				return nil, fmt.Errorf("nuscenes: sample %q has %d predictions, more than %d: %w", k, n, cfg.MaxBoxesPerSample, ErrFormat)
			}
		}
	}
	gs, ps = gs.filter(cfg, true), ps.filter(cfg, false)
	m := &Metrics{Config: cfg}
	var sumAP float64
	var tpSum [5]float64
	var tpN [5]int
	names := DetectionNames
	if len(cfg.Classes) > 0 {
		names = nil
		for _, c := range cfg.Classes {
			if !slices.Contains(DetectionNames, c) {
				return nil, fmt.Errorf("nuscenes: Config.Classes: %q is not a detection class", c)
			}
		}
		for _, c := range DetectionNames {
			if slices.Contains(cfg.Classes, c) {
				names = append(names, c)
			}
		}
	}
	for _, name := range names {
		cm := ClassMetrics{Name: name, AP: make([]float64, len(cfg.DistThs))}
		for di, d := range cfg.DistThs {
			md := accumulate(gs, ps, name, d)
			cm.AP[di] = calcAP(md, cfg.MinRecall, cfg.MinPrecision)
			if d == cfg.DistThTP {
				for e := range 5 {
					switch {
					case name == "traffic_cone" && e >= 2, name == "barrier" && e >= 3:
						cm.TP[e] = math.NaN()
					default:
						cm.TP[e] = calcTP(md, cfg.MinRecall, e)
					}
				}
			}
		}
		for _, ap := range cm.AP {
			cm.MeanAP += ap
		}
		cm.MeanAP /= float64(len(cm.AP))
		sumAP += cm.MeanAP
		for e, v := range cm.TP {
			if !math.IsNaN(v) {
				tpSum[e] += v
				tpN[e]++
			}
		}
		m.Classes = append(m.Classes, cm)
	}
	m.MAP = sumAP / float64(len(names))
	total := cfg.MeanAPWeight * m.MAP
	for e := range 5 {
		m.TPErrors[e] = tpSum[e] / float64(tpN[e])
		m.TPScores[e] = math.Max(0, 1-m.TPErrors[e])
		total += m.TPScores[e]
	}
	m.NDS = total / (cfg.MeanAPWeight + 5)
	return m, nil
}

// accumulate is the devkit's algo.accumulate for one class and distance.
func accumulate(gs, ps sampleBoxes, name string, distTh float64) *metricData {
	npos := 0
	for _, b := range gs.all() {
		if b.Name == name {
			npos++
		}
	}
	if npos == 0 {
		return noPredictions()
	}
	var preds []Box
	for _, b := range ps.all() {
		if b.Name == name {
			preds = append(preds, b)
		}
	}
	// sorted((score, index))[::-1]: descending score, ties by descending index.
	order := make([]int, len(preds))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch sa, sb := preds[a].Score, preds[b].Score; {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return b - a
	})
	type key struct {
		sample string
		idx    int
	}
	taken := map[key]bool{}
	var tp, fp, confs []float64
	var errs [5][]float64
	var matchConf []float64
	for _, pi := range order {
		p := preds[pi]
		minDist := math.Inf(1)
		match := -1
		for gi, g := range gs.boxes[p.Sample] {
			if g.Name == name && !taken[key{p.Sample, gi}] {
				if d := centerDistance(g, p); d < minDist {
					minDist, match = d, gi
				}
			}
		}
		if minDist < distTh {
			taken[key{p.Sample, match}] = true
			tp, fp = append(tp, 1), append(fp, 0)
			confs = append(confs, p.Score)
			g := gs.boxes[p.Sample][match]
			period := 2 * math.Pi
			if name == "barrier" {
				period = math.Pi
			}
			errs[0] = append(errs[0], centerDistance(g, p))
			errs[1] = append(errs[1], 1-scaleIoU(g, p))
			errs[2] = append(errs[2], yawDiff(g, p, period))
			errs[3] = append(errs[3], velocityL2(g, p))
			errs[4] = append(errs[4], 1-attrAcc(g, p))
			matchConf = append(matchConf, p.Score)
		} else {
			tp, fp = append(tp, 0), append(fp, 1)
			confs = append(confs, p.Score)
		}
	}
	if len(matchConf) == 0 {
		return noPredictions()
	}
	n := len(tp)
	prec := make([]float64, n)
	rec := make([]float64, n)
	var ctp, cfp float64
	for i := range n {
		ctp += tp[i]
		cfp += fp[i]
		prec[i] = ctp / (cfp + ctp)
		rec[i] = ctp / float64(npos)
	}
	md := &metricData{}
	recInterp := linspace101()
	for i, r := range recInterp {
		md.precision[i] = interp(r, rec, prec, 0)
		md.confidence[i] = interp(r, rec, confs, 0)
	}
	// Errors: running mean over the matches, interpolated onto the curve's
	// confidences (reversed, since numpy.interp needs ascending points).
	mc := slices.Clone(matchConf)
	slices.Reverse(mc)
	for e := range 5 {
		tmp := cummean(errs[e])
		slices.Reverse(tmp)
		for i := range 101 {
			// Output index i of the reversed result reads input 100−i.
			md.errs[e][100-i] = interp(md.confidence[100-i], mc, tmp, tmp[len(tmp)-1])
		}
	}
	return md
}

func linspace101() []float64 {
	out := make([]float64, 101)
	step := 1.0 / 100
	for i := range out {
		out[i] = float64(i) * step
	}
	out[100] = 1
	return out
}

// interp is numpy.interp(x, xp, fp, left=fp[0], right=right) for a
// non-decreasing xp (repeated values allowed, as numpy treats them).
func interp(x float64, xp, fp []float64, right float64) float64 {
	n := len(xp)
	switch {
	case math.IsNaN(x):
		return x
	case x > xp[n-1]:
		return right
	case x < xp[0]:
		return fp[0]
	}
	// j: the last index with xp[j] <= x.
	j := sortSearch(n, func(i int) bool { return xp[i] > x }) - 1
	if j == n-1 || xp[j] == x {
		return fp[j]
	}
	slope := (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])
	v := slope*(x-xp[j]) + fp[j]
	if math.IsNaN(v) {
		v = slope*(x-xp[j+1]) + fp[j+1]
		if math.IsNaN(v) && fp[j] == fp[j+1] {
			v = fp[j]
		}
	}
	return v
}

func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if !f(h) {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// cummean is the devkit's running mean ignoring NaNs: ones when every
// value is NaN, 0 before the first number.
func cummean(x []float64) []float64 {
	out := make([]float64, len(x))
	nan := 0
	for _, v := range x {
		if math.IsNaN(v) {
			nan++
		}
	}
	if nan == len(x) {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	var sum float64
	cnt := 0
	for i, v := range x {
		if !math.IsNaN(v) {
			sum += v
			cnt++
		}
		if cnt > 0 {
			out[i] = sum / float64(cnt)
		}
	}
	return out
}

func calcAP(md *metricData, minRecall, minPrecision float64) float64 {
	first := int(math.RoundToEven(100*minRecall)) + 1
	var sum float64
	n := 0
	for _, p := range md.precision[min(first, 101):] {
		sum += math.Max(p-minPrecision, 0)
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n) / (1 - minPrecision)
}

func calcTP(md *metricData, minRecall float64, e int) float64 {
	first := int(math.RoundToEven(100*minRecall)) + 1
	last := 0 // the highest recall reached: last non-zero confidence
	for i, c := range md.confidence {
		if c != 0 {
			last = i
		}
	}
	if last < first {
		return 1
	}
	var sum float64
	for _, v := range md.errs[e][first : last+1] {
		sum += v
	}
	return sum / float64(last+1-first)
}

func centerDistance(g, p Box) float64 {
	dx, dy := p.Translation[0]-g.Translation[0], p.Translation[1]-g.Translation[1]
	return math.Sqrt(dx*dx + dy*dy)
}

func velocityL2(g, p Box) float64 {
	dx, dy := p.Velocity[0]-g.Velocity[0], p.Velocity[1]-g.Velocity[1]
	return math.Sqrt(dx*dx + dy*dy)
}

// scaleIoU is the IoU of the two sizes with centres and orientations
// aligned.
func scaleIoU(g, p Box) float64 {
	mn := [3]float64{math.Min(g.Size[0], p.Size[0]), math.Min(g.Size[1], p.Size[1]), math.Min(g.Size[2], p.Size[2])}
	vg := g.Size[0] * g.Size[1] * g.Size[2]
	vp := p.Size[0] * p.Size[1] * p.Size[2]
	in := mn[0] * mn[1] * mn[2]
	return in / (vg + vp - in)
}

// pyMod is Python's float % (the result takes the divisor's sign).
func pyMod(a, p float64) float64 {
	m := math.Mod(a, p)
	if m != 0 && (m < 0) != (p < 0) {
		m += p
	}
	return m
}

// yawDiff is the devkit's smallest yaw difference with the given period.
func yawDiff(g, p Box, period float64) float64 {
	diff := pyMod(g.Yaw()-p.Yaw()+period/2, period) - period/2
	if diff > math.Pi {
		diff -= 2 * math.Pi
	}
	return math.Abs(diff)
}

// attrAcc is 1 when the attributes agree, 0 when not, NaN when the ground
// truth has none.
func attrAcc(g, p Box) float64 {
	if g.Attribute == "" {
		return math.NaN()
	}
	if g.Attribute == p.Attribute {
		return 1
	}
	return 0
}
