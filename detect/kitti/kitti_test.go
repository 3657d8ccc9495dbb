package kitti

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The first lines of KITTI training sample 000001 and its calib.
const label = `Truck 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56
Car 0.00 0 1.85 387.63 181.54 423.81 203.12 1.67 1.87 3.69 -16.53 2.39 58.49 1.57
Cyclist 0.00 3 -1.65 676.60 163.95 688.98 193.93 1.86 0.60 2.02 4.59 1.32 45.84 -1.55
DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10
`

const calib = `P0: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 0.000000000000e+00 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P1: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 -3.875744000000e+02 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 0.000000000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 0.000000000000e+00
P2: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 4.485728000000e+01 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.163791000000e-01 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.745884000000e-03
P3: 7.215377000000e+02 0.000000000000e+00 6.095593000000e+02 -3.395242000000e+02 0.000000000000e+00 7.215377000000e+02 1.728540000000e+02 2.199936000000e+00 0.000000000000e+00 0.000000000000e+00 1.000000000000e+00 2.729905000000e-03
R0_rect: 9.999239000000e-01 9.837760000000e-03 -7.445048000000e-03 -9.869795000000e-03 9.999421000000e-01 -4.278459000000e-03 7.402527000000e-03 4.351614000000e-03 9.999631000000e-01
Tr_velo_to_cam: 7.533745000000e-03 -9.999714000000e-01 -6.166020000000e-04 -4.069766000000e-03 1.480249000000e-02 7.280733000000e-04 -9.998902000000e-01 -7.631618000000e-02 9.998621000000e-01 7.523790000000e-03 1.480755000000e-02 -2.717806000000e-01

`

func TestReadSample(t *testing.T) {
	dir := t.TempDir()
	for sub, text := range map[string]string{"calib": calib, "label_2": label} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		if err := os.WriteFile(filepath.Join(dir, sub, "000001.txt"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cam, labels, err := ReadSample(dir, "000001")
	if err != nil {
		t.Fatal(err)
	}
	if cam.P[0][3] != 44.85728 || cam.P[2][3] != 2.745884e-03 || cam.Fx() != 721.5377 {
		t.Errorf("P2 %v", cam.P)
	}
	if len(labels) != 4 || labels[3].Type != "DontCare" {
		t.Fatalf("labels %+v", labels)
	}
	objs := Objects(labels, Classes)
	if len(objs) != 2 {
		t.Fatalf("objects %+v (Truck and DontCare dropped)", objs)
	}
	car := objs[0]
	if car.Class != 2 || car.Center[0] != -16.53 || math.Abs(car.Center[1]-(2.39-0.835)) > 1e-12 || car.Center[2] != 58.49 || car.Size != [3]float64{3.69, 1.67, 1.87} || car.Yaw != 1.57 {
		t.Errorf("car %+v", car)
	}
	// The projected gravity centre falls inside the labelled 2D box.
	u, v, _ := cam.Project(car.Center)
	if u < car.Box[0] || u > car.Box[2] || v < car.Box[1] || v > car.Box[3] {
		t.Errorf("centre projects to (%v, %v), outside %v", u, v, car.Box)
	}
	if labels[0].Alpha != -1.57 {
		t.Errorf("alpha %v", labels[0].Alpha)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"fields", "Car 0 0 0 1 2 3\n", "line 1: 7 fields"},
		{"nan", "Car 0.00 0 1.85 387.63 181.54 423.81 203.12 NaN 1.87 3.69 -16.53 2.39 58.49 1.57\n", "line 1: h \"NaN\""},
		{"degenerate", "\nCar 0.00 0 1.85 387.63 181.54 387.63 203.12 1.67 1.87 3.69 -16.53 2.39 58.49 1.57\n", "line 2: Car: degenerate box"},
		{"size", "Car 0.00 0 1.85 387.63 181.54 423.81 203.12 0 1.87 3.69 -16.53 2.39 58.49 1.57\n", "dimensions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeLabels(strings.NewReader(tc.text), "000007.txt")
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "000007.txt") {
				t.Errorf("error %v, want ErrFormat naming the file and %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, text, want string }{
		{"short P2", "P0: 1 2\n", "P0 has 2 numbers"},
		{"missing", strings.Replace(calib, "P3:", "Q3:", 1), "no P3"},
		{"bad number", strings.Replace(calib, "7.215377000000e+02", "x", 1), "P0[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCalib(strings.NewReader(tc.text), "calib.txt")
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeLabels(f *testing.F) {
	f.Add(label)
	f.Fuzz(func(t *testing.T, s string) {
		labels, err := DecodeLabels(strings.NewReader(s), "fuzz")
		if err == nil {
			_ = Objects(labels, Classes)
		}
	})
}
