package nuscenes

import (
	"math"
	"testing"
)

// TestEvaluateClasses: perfect predictions of five classes score NDS 1
// when the configuration evaluates those five (the devkit's class_range
// keys); over all ten, the missing classes count AP 0 and errors 1 (mAP
// 0.5; mATE, mASE 5/10, mAOE 5/9 without the cone, mAVE, mAAE 5/8
// without cone and barrier).
func TestEvaluateClasses(t *testing.T) {
	var gt []Box
	for i, n := range []string{"car", "truck", "pedestrian", "traffic_cone", "barrier"} {
		attr := map[string]string{"car": "vehicle.moving", "truck": "vehicle.parked", "pedestrian": "pedestrian.standing"}[n]
		gt = append(gt, box("s", n, [3]float64{5 + 4*float64(i), float64(i), 0.8}, [3]float64{1, 2, 1.5}, 0.3*float64(i), [2]float64{1, 0}, attr, 0))
	}
	pred := make([]Box, len(gt))
	for i, b := range gt {
		b.Score = 0.9
		pred[i] = b
	}
	all := DefaultConfig()
	five := DefaultConfig()
	five.Classes = PresentClasses(gt)
	if len(five.Classes) != 5 {
		t.Fatalf("present classes %v", five.Classes)
	}
	for _, tc := range []struct {
		name      string
		cfg       Config
		nds, map_ float64
		classes   int
	}{{"all ten", all, (5*0.5 + 0.5 + 0.5 + 4.0/9 + 3.0/8 + 3.0/8) / 10, 0.5, 10}, {"the five present", five, 1, 1, 5}} {
		m, err := Evaluate(gt, pred, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(m.NDS-tc.nds) > 1e-9 || math.Abs(m.MAP-tc.map_) > 1e-9 || len(m.Classes) != tc.classes {
			t.Errorf("%s: NDS %v mAP %v over %d classes, want %v %v %d", tc.name, m.NDS, m.MAP, len(m.Classes), tc.nds, tc.map_, tc.classes)
		}
	}
	bad := DefaultConfig()
	bad.Classes = []string{"car", "lorry"}
	if _, err := Evaluate(gt, pred, bad); err == nil {
		t.Error("unknown class accepted")
	}
}

func TestAttributeFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		attr int
		want string
	}{
		{"car", 5, "vehicle.moving"}, {"car", 2, "vehicle.parked"}, {"truck", 8, "vehicle.parked"},
		{"pedestrian", 3, "pedestrian.standing"}, {"pedestrian", 6, "pedestrian.moving"},
		{"bicycle", 0, "cycle.with_rider"}, {"motorcycle", 5, "cycle.without_rider"}, {"bus", -1, "vehicle.moving"},
		{"traffic_cone", 5, ""}, {"barrier", 8, ""},
	} {
		if got := AttributeFor(tc.name, tc.attr); got != tc.want {
			t.Errorf("AttributeFor(%s, %d) = %q, want %q", tc.name, tc.attr, got, tc.want)
		}
	}
}
