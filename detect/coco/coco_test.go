package coco

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/disiam/disiam/detect"
)

type gtBox struct {
	img   int64
	cat   int64
	bbox  [4]float64
	crowd bool
}

// build makes a dataset of 100x100 images 1..nImg, categories cats, GT
// areas w·h, annotation ids 1.. in order.
func build(t *testing.T, nImg int, cats []int64, gts []gtBox) *Dataset {
	t.Helper()
	var ims []Image
	for i := 1; i <= nImg; i++ {
		ims = append(ims, Image{ID: int64(i), Width: 100, Height: 100})
	}
	var cs []Category
	for _, c := range cats {
		cs = append(cs, Category{ID: c, Name: "c"})
	}
	var anns []Annotation
	for j, g := range gts {
		anns = append(anns, Annotation{ID: int64(j + 1), ImageID: g.img, CategoryID: g.cat, BBox: g.bbox, Area: g.bbox[2] * g.bbox[3], IsCrowd: g.crowd})
	}
	d, err := New("test", ims, anns, cs)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Cases computed with cocoapi's cocoeval.py (COCOeval(gt, dt, "bbox"),
// default parameters).
func TestEvaluateGolden(t *testing.T) {
	cases := []struct {
		name string
		gts  []gtBox
		dets []Result
		want [12]float64
	}{
		{
			name: "two objects, one false positive",
			gts:  []gtBox{{1, 1, [4]float64{10, 10, 40, 40}, false}, {1, 1, [4]float64{60, 60, 20, 20}, false}},
			dets: []Result{
				{ImageID: 1, CategoryID: 1, BBox: [4]float64{12, 12, 40, 40}, Score: 0.9},
				{ImageID: 1, CategoryID: 1, BBox: [4]float64{61, 61, 20, 22}, Score: 0.8},
				{ImageID: 1, CategoryID: 1, BBox: [4]float64{0, 0, 30, 30}, Score: 0.7},
			},
			want: [12]float64{0.650495, 1.0, 1.0, 0.6, 0.7, -1.0, 0.35, 0.65, 0.65, 0.6, 0.7, -1.0},
		},
		{
			name: "IoU tie at a threshold",
			gts:  []gtBox{{1, 1, [4]float64{60, 60, 20, 20}, false}},
			dets: []Result{{ImageID: 1, CategoryID: 1, BBox: [4]float64{60, 60, 20, 25}, Score: 0.8}},
			want: [12]float64{0.7, 1.0, 1.0, 0.7, -1.0, -1.0, 0.7, 0.7, 0.7, 0.7, -1.0, -1.0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gt := build(t, 1, []int64{1}, tc.gts)
			e, err := Evaluate(gt, tc.dets, Params{})
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if math.Abs(e.Stats[i]-w) > 1e-6 {
					t.Errorf("%s = %.9f, want %.6f", StatNames[i], e.Stats[i], w)
				}
			}
			if cs := e.ClassStats(0); cs != e.Stats {
				t.Errorf("one class: ClassStats %v != Stats %v", cs, e.Stats)
			}
		})
	}
}

// Hand-derived cases for crowd, area ranges, maxDets and several images and
// classes (each number follows from the rules in Evaluate's doc).
func TestEvaluateRules(t *testing.T) {
	t.Run("crowd absorbs detections", func(t *testing.T) {
		// A crowd region and one object; two detections inside the crowd
		// are ignored, the one on the object is a TP: AP = 1 everywhere.
		gt := build(t, 1, []int64{3}, []gtBox{
			{1, 3, [4]float64{0, 0, 50, 50}, true},
			{1, 3, [4]float64{60, 60, 30, 30}, false},
		})
		dets := []Result{
			{ImageID: 1, CategoryID: 3, BBox: [4]float64{5, 5, 10, 10}, Score: 0.95},
			{ImageID: 1, CategoryID: 3, BBox: [4]float64{20, 20, 10, 10}, Score: 0.9},
			{ImageID: 1, CategoryID: 3, BBox: [4]float64{60, 60, 30, 30}, Score: 0.5},
		}
		e, err := Evaluate(gt, dets, Params{})
		if err != nil {
			t.Fatal(err)
		}
		// Object area 900 is small: APs = 1, APm = APl = −1. The 100-area
		// detections inside the crowd are small too (matched to the crowd
		// and ignored). AR1 = 0: the top detection is ignored.
		want := [12]float64{1, 1, 1, 1, -1, -1, 0, 1, 1, 1, -1, -1}
		// Precision is TP/(TP+FP+2.2e-16), so "1" is 1 − 2.2e-16.
		for i := range want {
			if math.Abs(e.Stats[i]-want[i]) > 1e-12 {
				t.Errorf("%s = %v, want %v", StatNames[i], e.Stats[i], want[i])
			}
		}
	})
	t.Run("two classes and an empty class", func(t *testing.T) {
		// Class 1 perfect on image 1, class 2 has a GT on image 2 but only a
		// miss, class 5 has no GT (−1, left out of the means).
		gt := build(t, 2, []int64{5, 1, 2}, []gtBox{
			{1, 1, [4]float64{10, 10, 20, 20}, false},
			{2, 2, [4]float64{10, 10, 40, 40}, false},
		})
		dets := []Result{
			{ImageID: 1, CategoryID: 1, BBox: [4]float64{10, 10, 20, 20}, Score: 0.9},
			{ImageID: 2, CategoryID: 2, BBox: [4]float64{60, 60, 30, 30}, Score: 0.9},
			{ImageID: 1, CategoryID: 5, BBox: [4]float64{60, 60, 30, 30}, Score: 0.9},
		}
		e, err := Evaluate(gt, dets, Params{})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(e.Stats[0]-0.5) > 1e-12 {
			t.Errorf("AP %v, want 0.5", e.Stats[0])
		}
		if k, _ := gt.ClassIndex(1); math.Abs(e.ClassStats(k)[0]-1) > 1e-12 {
			t.Errorf("class of id 1: AP %v, want 1", e.ClassStats(k)[0])
		}
		if k, _ := gt.ClassIndex(5); e.ClassStats(k)[0] != -1 {
			t.Errorf("class of id 5: AP %v, want -1", e.ClassStats(k)[0])
		}
	})
	t.Run("maxDets cuts low scores", func(t *testing.T) {
		// Two objects; the right detection of the second has the lower
		// score, so AR1 = 0.5 and AR10 = 1.
		gt := build(t, 1, []int64{1}, []gtBox{
			{1, 1, [4]float64{0, 0, 40, 40}, false},
			{1, 1, [4]float64{50, 50, 40, 40}, false},
		})
		dets := []Result{
			{ImageID: 1, CategoryID: 1, BBox: [4]float64{0, 0, 40, 40}, Score: 0.9},
			{ImageID: 1, CategoryID: 1, BBox: [4]float64{50, 50, 40, 40}, Score: 0.8},
		}
		e, err := Evaluate(gt, dets, Params{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Stats[6] != 0.5 || e.Stats[7] != 1 {
			t.Errorf("AR1 %v AR10 %v, want 0.5 1", e.Stats[6], e.Stats[7])
		}
	})
}

func TestLinspace(t *testing.T) {
	th := Linspace(0.5, 0.95, 10)
	// numpy.linspace(.5, .95, 10): 0.85 exactly and 0.8999999999999999.
	if th[7] != 0.85 || th[8] != 0.8999999999999999 || th[5] != 0.75 || th[9] != 0.95 {
		t.Errorf("IoU thresholds %v", th)
	}
	r := Linspace(0, 1, 101)
	if r[35] != 0.35000000000000003 || r[100] != 1 {
		t.Errorf("recall thresholds %v %v", r[35], r[100])
	}
}

const sample = `{"images":[{"id":7,"file_name":"a.jpg","width":64,"height":48}],
"annotations":[{"id":1,"image_id":7,"category_id":18,"bbox":[1,2,10,20],"area":150,"iscrowd":0},
{"id":2,"image_id":7,"category_id":3,"bbox":[5,5,4,4],"iscrowd":1}],
"categories":[{"id":18,"name":"dog"},{"id":3,"name":"car"}]}`

func TestDecode(t *testing.T) {
	d, err := Decode(strings.NewReader(sample), "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Classes(); got[0] != "car" || got[1] != "dog" {
		t.Errorf("classes %v, want [car dog] (sorted by id)", got)
	}
	if k, ok := d.ClassIndex(18); !ok || k != 1 || d.CategoryID(1) != 18 {
		t.Errorf("ClassIndex(18) = %d %v", k, ok)
	}
	objs := d.Objects(0)
	want := []detect.Object{
		{Class: 1, Box: detect.Box{1, 2, 11, 22}, Attr: -1},
		{Class: 0, Box: detect.Box{5, 5, 9, 9}, Crowd: true, Attr: -1},
	}
	if len(objs) != 2 || objs[0] != want[0] || objs[1] != want[1] {
		t.Errorf("objects %+v, want %+v", objs, want)
	}
	if d.Annotations[1].Area != 16 {
		t.Errorf("missing area -> %v, want w*h = 16", d.Annotations[1].Area)
	}
	// Round trip through Write.
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	d2, err := Decode(&buf, "rt")
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Annotations) != 2 || d2.Annotations[0] != d.Annotations[0] || d2.Annotations[1] != d.Annotations[1] {
		t.Errorf("round trip %+v", d2.Annotations)
	}
	// Results round trip.
	res, err := d.Results(7, []detect.Detection{{Box: detect.Box{1, 2, 11, 22}, Score: 0.5, Class: 1}})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := WriteResults(&buf, res); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeResults(&buf, "res")
	if err != nil || len(back) != 1 || back[0] != (Result{ImageID: 7, CategoryID: 18, BBox: [4]float64{1, 2, 10, 20}, Score: 0.5}) {
		t.Errorf("results round trip %+v %v", back, err)
	}
	if _, err := d.Results(7, []detect.Detection{{Class: 2}}); err == nil {
		t.Error("class 2 of 2 accepted")
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, json, want string
	}{
		{"degenerate", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,0,5]}]}`, "annotations[0]: id 4: degenerate bbox"},
		{"nan", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1,5],"area":-1}]}`, "id 4: area -1"},
		{"short bbox", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1]}]}`, "bbox has 3 numbers"},
		{"unknown image", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":4,"image_id":2,"category_id":1,"bbox":[0,0,1,1]}]}`, "image_id 2 is not in images"},
		{"unknown category", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":4,"image_id":1,"category_id":9,"bbox":[0,0,1,1]}]}`, "category_id 9"},
		{"duplicate id", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1,1]},{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1,1]}]}`, "annotations[1]: id 4 twice"},
		{"zero id", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":0,"image_id":1,"category_id":1,"bbox":[0,0,1,1]}]}`, "id 0 < 1"},
		{"missing bbox", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":3,"image_id":1,"category_id":1}]}`, "id 3: no bbox"},
		{"bad crowd", `{"images":[{"id":1}],"categories":[{"id":1}],"annotations":[{"id":3,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"iscrowd":2}]}`, "iscrowd 2"},
		{"truncated", `{"images":[{"id":1}`, "bad.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.json), "bad.json")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.json") {
				t.Errorf("error %q, want ErrFormat naming bad.json and %q", err, tc.want)
			}
		})
	}
	res := []struct{ name, json, want string }{
		{"nan score", `[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":"x"}]`, "results[0]"},
		{"negative", `[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1},{"image_id":1,"category_id":1,"bbox":[0,0,-1,1],"score":1}]`, "results[1]: bbox"},
		{"no score", `[{"image_id":1,"category_id":1,"bbox":[0,0,1,1]}]`, "no score"},
	}
	for _, tc := range res {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeResults(strings.NewReader(tc.json), "r.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "r.json") {
				t.Errorf("error %v, want one naming r.json and %q", err, tc.want)
			}
		})
	}
	gt := build(t, 1, []int64{1}, nil)
	if _, err := Evaluate(gt, []Result{{ImageID: 2, CategoryID: 1, BBox: [4]float64{0, 0, 1, 1}}}, Params{}); err == nil {
		t.Error("unknown image accepted")
	}
	if _, err := Evaluate(gt, []Result{{ImageID: 1, CategoryID: 0, BBox: [4]float64{0, 0, 1, 1}}}, Params{}); err == nil {
		t.Error("unknown category accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sample)
	f.Add(`{"images":[],"annotations":[],"categories":[]}`)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Decode(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		for i := range d.Images {
			_ = d.Objects(i)
		}
		if _, err := Evaluate(d, nil, Params{}); err != nil {
			t.Fatal(err)
		}
	})
}
