package nuscenes

import (
	"math"
	"testing"
)

func box(sample, name string, tr [3]float64, wlh [3]float64, yaw float64, vel [2]float64, attr string, score float64) Box {
	return Box{Sample: sample, Name: name, Translation: tr, Size: wlh, Rotation: YawQuaternion(yaw), Velocity: vel, Attribute: attr, Score: score}
}

// goldenB is a case computed with the nuScenes devkit (accumulate, calc_ap,
// calc_tp, DetectionMetrics; cvpr_2019 configuration).
func goldenB() (gt, pred []Box) {
	gt = []Box{
		box("s1", "car", [3]float64{10, 0, 0.8}, [3]float64{1.9, 4.5, 1.6}, 0.0, [2]float64{5, 0}, "vehicle.moving", 0),
		box("s1", "car", [3]float64{20, 5, 0.8}, [3]float64{2.0, 4.8, 1.7}, 1.57, [2]float64{0, 0}, "vehicle.parked", 0),
		box("s1", "pedestrian", [3]float64{8, -3, 0.9}, [3]float64{0.6, 0.7, 1.8}, 3.0, [2]float64{1, 0.5}, "pedestrian.moving", 0),
		box("s1", "barrier", [3]float64{12, 8, 0.5}, [3]float64{2.5, 0.5, 1.0}, 0.2, [2]float64{0, 0}, "", 0),
		box("s2", "car", [3]float64{-15, 2, 0.8}, [3]float64{1.8, 4.2, 1.5}, -2.0, [2]float64{-3, 1}, "vehicle.moving", 0),
		box("s2", "pedestrian", [3]float64{5, 5, 0.9}, [3]float64{0.7, 0.6, 1.7}, 0.5, [2]float64{0, 1}, "pedestrian.standing", 0),
	}
	pred = []Box{
		box("s1", "car", [3]float64{10.3, 0.2, 0.9}, [3]float64{2.0, 4.3, 1.6}, 0.1, [2]float64{4.5, 0.2}, "vehicle.moving", 0.9),
		box("s1", "car", [3]float64{21.2, 5.5, 0.7}, [3]float64{1.8, 5.0, 1.5}, 4.57, [2]float64{0.3, 0}, "vehicle.moving", 0.6),
		box("s1", "car", [3]float64{30, -10, 0.8}, [3]float64{1.9, 4.5, 1.6}, 0.0, [2]float64{0, 0}, "vehicle.parked", 0.7),
		box("s1", "pedestrian", [3]float64{8.4, -3.2, 0.9}, [3]float64{0.5, 0.7, 1.7}, 2.5, [2]float64{0.8, 0.4}, "pedestrian.moving", 0.8),
		box("s1", "barrier", [3]float64{12.5, 8.2, 0.5}, [3]float64{2.4, 0.6, 1.0}, 3.3, [2]float64{0, 0}, "", 0.5),
		box("s2", "car", [3]float64{-14.0, 2.5, 0.8}, [3]float64{1.8, 4.0, 1.5}, -1.8, [2]float64{-2, 1}, "vehicle.parked", 0.4),
		box("s2", "pedestrian", [3]float64{5.2, 4.3, 0.9}, [3]float64{0.7, 0.7, 1.7}, 0.3, [2]float64{0, 0.5}, "pedestrian.standing", 0.3),
		box("s2", "pedestrian", [3]float64{0, 0, 0.9}, [3]float64{0.7, 0.7, 1.7}, 0.3, [2]float64{0, 0}, "pedestrian.moving", 0.95),
	}
	return gt, pred
}

func TestEvaluateGolden(t *testing.T) {
	gt, pred := goldenB()
	for _, tc := range []struct {
		name string
		cfg  func() Config
	}{
		{"no range filter", func() Config { c := DefaultConfig(); c.ClassRange = nil; return c }},
		{"cvpr_2019 ranges (every box is inside)", DefaultConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Evaluate(gt, pred, tc.cfg())
			if err != nil {
				t.Fatal(err)
			}
			const tol = 1e-6
			near := func(what string, got, want float64) {
				t.Helper()
				if math.IsNaN(want) {
					if !math.IsNaN(got) {
						t.Errorf("%s = %v, want NaN", what, got)
					}
					return
				}
				if math.Abs(got-want) > tol {
					t.Errorf("%s = %.10f, want %.10f", what, got, want)
				}
			}
			near("mAP", m.MAP, 0.15570318930041155)
			near("NDS", m.NDS, 0.16780349121615376)
			for i, w := range []float64{0.8725341009683213, 0.7528882515666437, 0.8337862207692363, 0.8445895906659484, 0.7966828703703703} {
				near("m"+TPNames[i], m.TPErrors[i], w)
			}
			nan := math.NaN()
			want := map[string]struct {
				ap [4]float64
				tp [5]float64
			}{
				"car":        {[4]float64{0.25555556, 0.25555556, 0.70799383, 0.70799383}, [5]float64{0.69983130, 0.13122034, 1.00498333, 0.49395422, 0.37346296}},
				"pedestrian": {[4]float64{0.09917695, 0.40061728, 0.40061728, 0.40061728}, [5]float64{0.48699323, 0.20303131, 0.4575, 0.26276250, 0.0}},
				"barrier":    {[4]float64{0, 1, 1, 1}, [5]float64{0.53851648, 0.19463087, 0.04159265, nan, nan}},
			}
			for _, c := range m.Classes {
				w, ok := want[c.Name]
				if !ok {
					// Classes without ground truth: AP 0, TP errors 1 (NaN
					// where undefined for the class).
					w.tp = [5]float64{1, 1, 1, 1, 1}
					if c.Name == "traffic_cone" {
						w.tp = [5]float64{1, 1, nan, nan, nan}
					}
				}
				for i := range 4 {
					// The reference values are printed to 8 decimals.
					near(c.Name+" AP", c.AP[i], w.ap[i])
				}
				for i := range 5 {
					near(c.Name+" "+TPNames[i], c.TP[i], w.tp[i])
				}
			}
		})
	}
}

func TestInterpLikeNumpy(t *testing.T) {
	xp := []float64{0.2, 0.4, 0.4, 0.6}
	fp := []float64{1, 2, 3, 4}
	for _, tc := range []struct{ x, want float64 }{
		{0, 1},     // left: fp[0]
		{0.3, 1.5}, // linear
		{0.4, 3},   // repeated xp: the last equal one
		{0.5, 3.5}, // from the last repeated point
		{0.6, 4},   // the end
		{0.7, -9},  // right
	} {
		if got := interp(tc.x, xp, fp, -9); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("interp(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestYaw(t *testing.T) {
	for _, yaw := range []float64{0, 1, -2, 3.1, 4.57} {
		b := Box{Rotation: YawQuaternion(yaw)}
		want := math.Atan2(math.Sin(yaw), math.Cos(yaw))
		if math.Abs(b.Yaw()-want) > 1e-12 {
			t.Errorf("yaw %v -> %v, want %v", yaw, b.Yaw(), want)
		}
	}
	if d := yawDiff(Box{Rotation: YawQuaternion(0.2)}, Box{Rotation: YawQuaternion(3.3)}, math.Pi); math.Abs(d-math.Abs(3.3-0.2-math.Pi)) > 1e-12 {
		t.Errorf("barrier yaw diff %v", d)
	}
}

func TestEvaluateErrors(t *testing.T) {
	gt, pred := goldenB()
	bad := append([]Box(nil), pred...)
	bad[3].Size[1] = 0
	if _, err := Evaluate(gt, bad, DefaultConfig()); err == nil {
		t.Error("zero size accepted")
	}
	bad = append([]Box(nil), pred...)
	bad[0].Name = "cat"
	if _, err := Evaluate(gt, bad, DefaultConfig()); err == nil {
		t.Error("unknown class accepted")
	}
	bad = append([]Box(nil), pred...)
	bad[0].Score = math.NaN()
	if _, err := Evaluate(gt, bad, DefaultConfig()); err == nil {
		t.Error("NaN score accepted")
	}
	cfg := DefaultConfig()
	cfg.MaxBoxesPerSample = 3
	if _, err := Evaluate(gt, pred, cfg); err == nil {
		t.Error("6 boxes in a sample of at most 3 accepted")
	}
	// Range filter: a car GT at 60 m is dropped, so a matching prediction
	// there (also dropped) does not change anything.
	far := append(append([]Box(nil), gt...), box("s3", "car", [3]float64{60, 0, 0}, [3]float64{2, 4, 1.5}, 0, [2]float64{}, "vehicle.parked", 0))
	m1, _ := Evaluate(gt, pred, DefaultConfig())
	m2, err := Evaluate(far, pred, DefaultConfig())
	if err != nil || m1.NDS != m2.NDS {
		t.Errorf("far GT changed NDS: %v vs %v (%v)", m1.NDS, m2.NDS, err)
	}
	// NoPoints drops a GT: the barrier becomes a class without GT.
	np := append([]Box(nil), gt...)
	np[3].NoPoints = true
	m3, _ := Evaluate(np, pred, DefaultConfig())
	if c, _ := m3.Class("barrier"); c.MeanAP != 0 || c.TP[0] != 1 {
		t.Errorf("barrier without GT: AP %v ATE %v", c.MeanAP, c.TP[0])
	}
}
