package nuscenes

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/disiam/disiam/detect"
)

func TestSubmissionRoundTrip(t *testing.T) {
	_, pred := goldenB()
	// Put s2 first to check that sample order survives.
	pred = append(pred[5:], pred[:5]...)
	var buf bytes.Buffer
	meta := Meta{UseCamera: true}
	if err := WriteSubmission(&buf, meta, pred); err != nil {
		t.Fatal(err)
	}
	m, back, err := DecodeSubmission(&buf, "sub.json")
	if err != nil {
		t.Fatal(err)
	}
	if m != meta || len(back) != len(pred) {
		t.Fatalf("meta %+v, %d boxes", m, len(back))
	}
	for i := range pred {
		if back[i] != pred[i] {
			t.Errorf("box %d: %+v, want %+v", i, back[i], pred[i])
		}
	}
}

func TestDecodeSubmissionErrors(t *testing.T) {
	ok := `{"sample_token":"a","translation":[1,2,3],"size":[1,2,3],"rotation":[1,0,0,0],"velocity":[0,0],"detection_name":"car","detection_score":0.5,"attribute_name":""}`
	cases := []struct{ name, json, want string }{
		{"no meta", `{"results":{}}`, "meta"},
		{"wrong key", `{"meta":{},"results":{"b":[` + ok + `]}}`, `results["b"][0]: sample_token "a"`},
		{"short translation", `{"meta":{},"results":{"a":[` + strings.Replace(ok, "[1,2,3]", "[1,2]", 1) + `]}}`, "translation has 2 numbers"},
		{"bad class", `{"meta":{},"results":{"a":[` + strings.Replace(ok, `"car"`, `"cat"`, 1) + `]}}`, `detection_name "cat"`},
		{"missing score", `{"meta":{},"results":{"a":[` + strings.Replace(ok, `"detection_score":0.5,`, ``, 1) + `]}}`, "no detection_score"},
		{"bad attribute", `{"meta":{},"results":{"a":[` + strings.Replace(ok, `"attribute_name":""`, `"attribute_name":"x"`, 1) + `]}}`, `attribute_name "x"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeSubmission(strings.NewReader(tc.json), "s.json")
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "s.json") {
				t.Errorf("error %v, want ErrFormat naming s.json and %q", err, tc.want)
			}
		})
	}
}

func TestFromCamera(t *testing.T) {
	o := detect.Object{Center: [3]float64{2, 1, 10}, Size: [3]float64{4, 1.5, 1.8}, Yaw: 0.3, Velocity: [2]float64{1, 2}}
	b := FromCamera("s", o, "car", "vehicle.moving", 0.7)
	if b.Translation != [3]float64{10, -2, -1} || b.Size != [3]float64{1.8, 4, 1.5} || b.Velocity != [2]float64{2, -1} {
		t.Errorf("box %+v", b)
	}
	// The BEV rectangles agree up to the reflection between the frames:
	// same area of overlap with a shifted copy.
	o2 := o
	o2.Center[0] += 0.5
	o2.Yaw += 0.2
	b2 := FromCamera("s", o2, "car", "", 0)
	if a, c := detect.RectIntersection(detect.BEV(o), detect.BEV(o2)), detect.RectIntersection(b.Rect(), b2.Rect()); math.Abs(a-c) > 1e-12 {
		t.Errorf("overlap camera %v vs ego frame %v", a, c)
	}
	if d := yawDiff(b, b2, 2*math.Pi); math.Abs(d-0.2) > 1e-12 {
		t.Errorf("yaw difference %v, want 0.2", d)
	}
}

func TestEvaluateIoU(t *testing.T) {
	gt := []Box{
		box("a", "car", [3]float64{10, 0, 0}, [3]float64{2, 4, 1.5}, 0, [2]float64{}, "", 0),
		box("a", "car", [3]float64{20, 0, 0}, [3]float64{2, 4, 1.5}, 0, [2]float64{}, "", 0),
	}
	pred := []Box{
		// Exact on the first: IoU 1.
		box("a", "car", [3]float64{10, 0, 0}, [3]float64{2, 4, 1.5}, 0, [2]float64{}, "", 0.9),
		// A duplicate of the first: false positive.
		box("a", "car", [3]float64{10, 0.1, 0}, [3]float64{2, 4, 1.5}, 0, [2]float64{}, "", 0.8),
		// Half-length overlap with the second: BEV IoU (2·2)/(16−4) = 1/3.
		box("a", "car", [3]float64{22, 0, 0}, [3]float64{2, 4, 1.5}, 0, [2]float64{}, "", 0.7),
	}
	m, err := EvaluateIoU(gt, pred, []float64{0.25, 0.5}, BEVIoU, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// @0.25: TP, FP, TP: recall 1/2, 1/2, 1; precision 1, 1/2, 2/3 ->
	// envelope 1 on [0, 1/2], 2/3 on (1/2, 1]: AP = 1/2 + 1/3.
	// @0.5: TP, FP, FP: AP = 1/2.
	if math.Abs(m.AP[0][0]-(0.5+1.0/3)) > 1e-12 || math.Abs(m.AP[0][1]-0.5) > 1e-12 {
		t.Errorf("car AP %v", m.AP[0])
	}
	if math.Abs(m.MAP[0]-m.AP[0][0]) > 1e-12 || !math.IsNaN(m.AP[1][0]) {
		t.Errorf("mAP %v, truck %v", m.MAP, m.AP[1])
	}
	if v := IoU3D(pred[2], gt[1]); math.Abs(v-1.0/3) > 1e-12 {
		t.Errorf("3D IoU %v, want 1/3 (same heights)", v)
	}
}
