package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/disiam/disiam/examples/internal/runner"
	"github.com/disiam/disiam/report"
)

func TestMethodTitle(t *testing.T) {
	tests := []struct{ name, want string }{
		{"disiam+", "DiSiam+"},
		{"simclr:2,disiam:3", "SimCLR → DiSiam"},
		{"simsiam", "SimSiam"},
		{"mystery", "mystery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MethodTitle(tc.name); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}

func TestEpochsFor(t *testing.T) {
	f := &Flags{Epochs: 30, Methods: []string{"simsiam", "disiam+", "simclr"}, Backbones: []string{"resnet18-w8"}, Seeds: []uint64{1}}
	if got := f.EpochsText(); got != "30 epochs" {
		t.Errorf("without MethodEpochs: %q", got)
	}
	f.MethodEpochs = map[string]int{"disiam+": 24, "simclr": 30, "dyol": 12}
	tests := []struct {
		method string
		want   int
	}{{"simsiam", 30}, {"disiam+", 24}, {"simclr", 30}, {"dyol", 12}}
	for _, tc := range tests {
		if got := f.EpochsFor(tc.method); got != tc.want {
			t.Errorf("EpochsFor(%q) = %d, want %d", tc.method, got, tc.want)
		}
	}
	if got, want := f.EpochsText(), "30 epochs (DiSiam+ 24)"; got != want {
		t.Errorf("EpochsText() = %q, want %q", got, want)
	}
	jobs := f.MethodJobs()
	if len(jobs) != 3 {
		t.Fatalf("%d jobs", len(jobs))
	}
	for _, j := range jobs {
		if m := j.Plan[0].Method; j.Epochs() != f.EpochsFor(m) {
			t.Errorf("%s: job of %d epochs", m, j.Epochs())
		}
	}
}

func TestFlags(t *testing.T) {
	base := func() Flags {
		f := Defaults()
		f.Data, f.Epochs, f.Batch, f.Out = "synthetic", 1, 16, "x"
		f.Backbones, f.Assistant, f.Methods = []string{"resnet18-w8"}, "resnet18-w8", []string{"simsiam"}
		return f
	}
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{name: "ok", args: []string{"-seeds", "1, 2", "-methods", "simclr,disiam"}},
		{name: "bad seed", args: []string{"-seeds", "x"}, err: "seed"},
		{name: "no seeds", args: []string{"-seeds", ""}, err: "no seeds"},
		{name: "unknown method", args: []string{"-methods", "simsam"}, err: "unknown method"},
		{name: "unknown backbone", args: []string{"-backbones", "resnet19"}, err: "resnet19"},
		{name: "epochs", args: []string{"-epochs", "0"}, err: "-epochs"},
		{name: "batch", args: []string{"-batch", "1"}, err: "-batch"},
		{name: "accumulate", args: []string{"-accumulate", "3"}, err: "-accumulate"},
		{name: "knn", args: []string{"-knn-k", "0"}, err: "-knn-k"},
		{name: "no out", args: []string{"-out", ""}, err: "-out"},
		{name: "augment", args: []string{"-augment", "outline"}, err: "-augment"},
		{name: "optimizer", args: []string{"-optimizer", "adam"}, err: "-optimizer"},
		{name: "warmup", args: []string{"-warmup", "-1"}, err: "-warmup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.Register(fs)
			err := fs.Parse(tc.args)
			if err == nil {
				err = f.Check()
			}
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(f.Seeds, []uint64{1, 2}) || !reflect.DeepEqual(f.Methods, []string{"simclr", "disiam"}) {
					t.Errorf("seeds %v, methods %v", f.Seeds, f.Methods)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

// TestFlagsResolve checks how -augment and -optimizer auto resolve.
func TestFlagsResolve(t *testing.T) {
	tests := []struct {
		data, augment, optimizer string
		wantAug, wantOpt         string
	}{
		{"synthetic", "auto", "auto", runner.AugmentShapes, runner.OptimizerLARS},
		{"cifar10:/data", "auto", "auto", runner.AugmentMethod, runner.OptimizerThesis},
		{"synthetic", "method", "thesis", runner.AugmentMethod, runner.OptimizerThesis},
		{"fashion-mnist", "shapes", "sgd", runner.AugmentShapes, runner.OptimizerSGD},
	}
	for _, tc := range tests {
		f := Defaults()
		f.Data, f.Epochs, f.Batch, f.Out = tc.data, 1, 16, "x"
		f.Backbones, f.Assistant, f.Methods = []string{"resnet18-w8"}, "resnet18-w8", []string{"simsiam"}
		f.Augment, f.Optimizer = tc.augment, tc.optimizer
		if err := f.Check(); err != nil {
			t.Fatal(err)
		}
		if f.Augment != tc.wantAug || f.Optimizer != tc.wantOpt {
			t.Errorf("%s, %s, %s: resolved %s, %s; want %s, %s", tc.data, tc.augment, tc.optimizer, f.Augment, f.Optimizer, tc.wantAug, tc.wantOpt)
		}
		if d := f.Describe(); !strings.Contains(d, map[string]string{runner.OptimizerLARS: "LARS", runner.OptimizerSGD: "SGD", runner.OptimizerThesis: "thesis"}[f.Optimizer]) {
			t.Errorf("Describe() = %q", d)
		}
	}
}

func TestJobs(t *testing.T) {
	f := Defaults()
	f.Seeds, f.Epochs, f.Batch, f.LR, f.Assistant = []uint64{7, 41}, 3, 32, 0.05, "resnet34-w16"
	f.Backbones, f.Methods = []string{"resnet18-w16", "efficientnet_b0-x0.25"}, []string{"simsiam", "disiam"}
	jobs := f.MethodJobs()
	if len(jobs) != 8 {
		t.Fatalf("%d jobs, want 2 seeds × 2 backbones × 2 methods", len(jobs))
	}
	first, last := jobs[0], jobs[7]
	if first.Seed != 7 || last.Seed != 41 || first.Group != "ResNet-18 (width 16)" || first.Series != "SimSiam" ||
		last.Series != "DiSiam" || first.Batch != 32 || first.LR != 0.05 || first.Assistant != "resnet34-w16" || first.Epochs() != 3 {
		t.Errorf("jobs %+v ... %+v", first, last)
	}
}

// results builds results of two groups and two series over three seeds.
func results() []Result {
	var out []Result
	max := map[string][]float64{
		"A/x": {0.5, 0.6, 0.7}, "A/y": {0.8, 0.8, 0.8},
		"B/x": {0.4, math.NaN(), 0.4}, "B/y": {0.3, 0.2, 0.1},
	}
	for s, seed := range []uint64{7, 41, 923} {
		for _, g := range []string{"A", "B"} {
			for _, series := range []string{"x", "y"} {
				r := Result{Job: Job{Group: g, Series: series, Backbone: "bb" + g, Seed: seed,
					Plan: []runner.StagePlan{{Method: "simsiam", Epochs: 2}}},
					Initial: 0.1 * float64(s+1), Max: max[g+"/"+series][s], MaxEpoch: 2, Final: 0.3, FinalTop5: 0.9,
					Curve: []Point{{Epoch: 0, Top1: 0.1}, {Epoch: 1, Top1: 0.2}, {Epoch: 2, Top1: max[g+"/"+series][s]}}}
				if math.IsNaN(r.Max) {
					r.Note = "diverged at epoch 1"
				}
				r.InitialBN = math.NaN()
				if g == "A" && (series == "y" || s != 1) { // seed 41's x run lacks it: y's counts
					r.InitialBN = 0.4 + 0.1*float64(s)
				}
				out = append(out, r)
			}
		}
	}
	return out
}

func TestGrid(t *testing.T) {
	g := NewGrid(results())
	if !reflect.DeepEqual(g.Groups, []string{"A", "B"}) || !reflect.DeepEqual(g.Series, []string{"x", "y"}) {
		t.Fatalf("groups %v series %v", g.Groups, g.Series)
	}
	if init := g.Initial("A"); !reflect.DeepEqual(init, []float64{0.1, 0.2, 0.30000000000000004}) {
		t.Errorf("Initial %v: want one value per seed", init)
	}
	var b bytes.Buffer
	g.Matrix(&b, "Setting")
	want := "| Setting | x | y |\n| --- | --- | --- |\n" +
		"| A | 60.00 ± 10.00 | 80.00 ± 0.00 |\n" +
		"| B | 40.00 ± 0.00 (1 of 3 diverged) | 20.00 ± 10.00 |\n"
	if b.String() != want {
		t.Errorf("Matrix:\n%s\nwant\n%s", b.String(), want)
	}
	stds := g.StdPerSeries()
	if len(stds[0]) != 2 || math.Abs(stds[0][0]-0.1) > 1e-12 || stds[0][1] != 0 || len(stds[1]) != 2 {
		t.Errorf("StdPerSeries %v", stds)
	}
	b.Reset()
	g.GroupTables(&b, "Method", true)
	for _, w := range []string{"**A**", "| Random Initialization | 20.00 ± 10.00 |  | 0 | 3 |", "| y | 80.00 ± 0.00 | 30.00 ± 0.00 | 2 | 3 |",
		"| Random Initialization, BN statistics re-estimated | 50.00 ± 10.00 |  | 0 | 3 |"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("GroupTables lacks %q:\n%s", w, b.String())
		}
	}
	if n := strings.Count(b.String(), "re-estimated"); n != 1 {
		t.Errorf("%d rows with re-estimated statistics, want 1 (group B has none):\n%s", n, b.String())
	}
	b.Reset()
	g.StdTable(&b)
	if !strings.Contains(b.String(), "| x | 5.00 |") {
		t.Errorf("StdTable:\n%s", b.String())
	}
	dir := t.TempDir()
	for name, write := range map[string]func(string) error{
		"bars.png":   func(p string) error { return g.MaxBars(p, reportFigure()) },
		"std.png":    func(p string) error { return g.StdBars(p, reportFigure()) },
		"curves.png": func(p string) error { return g.Curves(p, "A", reportFigure()) },
	} {
		if err := write(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestResultJSON(t *testing.T) {
	r := Result{Job: Job{Group: "g", Seed: 3}, Initial: 0.25, InitialBN: math.NaN(), Max: math.NaN(), Final: math.Inf(1), FinalTop5: 0.5,
		Resized: []Resized{{Size: 224, Initial: math.NaN(), Max: 0.5}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, w := range []string{`"initial_top1":0.25`, `"initial_top1_bn":null`, `"max_top1":null`, `"final_top1":null`, `"group":"g"`, `"seed":3`,
		`"resized":[{"size":224`, `"initial_top1":null,"max_top1":0.5`} {
		if !strings.Contains(s, w) {
			t.Errorf("JSON lacks %s: %s", w, s)
		}
	}
	if strings.Count(s, `"max_top1"`) != 2 {
		t.Errorf("duplicate keys: %s", s)
	}
}

func TestPlotFile(t *testing.T) {
	if got := PlotFile("d", "curves_ResNet-18 (width 16).png"); got != filepath.Join("d", "curves_ResNet-18_width_16.png") {
		t.Errorf("%q", got)
	}
}

// TestSweepReproducible runs one tiny job twice (the second time with a
// side evaluation at 48×48) and checks that the numbers repeat exactly
// and the side curve pairs with the main one.
func TestSweepReproducible(t *testing.T) {
	data, err := OpenData("synthetic", 40, 20)
	if err != nil {
		t.Fatal(err)
	}
	f := Defaults()
	f.Epochs, f.Batch, f.HeadDim, f.K, f.Seeds = 2, 20, 32, 10, []uint64{5}
	f.Backbones, f.Methods, f.Assistant = []string{"resnet18-w4"}, []string{"disiam"}, "resnet18-w4"
	var got [2][]Result
	for i := range got {
		f.Out = t.TempDir()
		sw := &Sweep{Flags: f, Data: data, Jobs: f.MethodJobs()}
		if i == 1 {
			sw.AlsoSizes = []int{48}
		}
		if got[i], err = sw.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	a, b := got[0][0], got[1][0]
	if !reflect.DeepEqual(a.Curve, b.Curve) || a.Max != b.Max || len(a.Curve) != 3 {
		t.Errorf("runs differ: %+v vs %+v", a.Curve, b.Curve)
	}
	if !(a.InitialBN >= 0 && a.InitialBN <= 1) || a.InitialBN != b.InitialBN {
		t.Errorf("initialization with re-estimated statistics: %v, then %v", a.InitialBN, b.InitialBN)
	}
	if len(b.Resized) != 1 || len(b.Resized[0].Curve) != len(b.Curve) || b.Resized[0].Size != 48 {
		t.Fatalf("resized %+v", b.Resized)
	}
	for k, e := range b.Resized[0].Curve {
		if e.Epoch != b.Curve[k].Epoch || !(e.Top1 >= 0 && e.Top1 <= 1) {
			t.Errorf("resized measurement %d: %+v (main %+v)", k, e, b.Curve[k])
		}
	}
	if a.Params <= 0 || a.Seconds <= 0 {
		t.Errorf("params %d, seconds %v", a.Params, a.Seconds)
	}
}

// TestSweepShapesLARS checks that -augment shapes and -optimizer lars
// reach the runs: the same job trains differently under each setting, and
// the outlined data is gray.
func TestSweepShapesLARS(t *testing.T) {
	data, err := OpenData("synthetic", 40, 20)
	if err != nil {
		t.Fatal(err)
	}
	f := Defaults()
	f.Epochs, f.Batch, f.HeadDim, f.K, f.Seeds = 2, 20, 32, 10, []uint64{5}
	f.Backbones, f.Methods, f.Assistant = []string{"resnet18-w4"}, []string{"simsiam"}, "resnet18-w4"
	run := func(aug, opt string) Result {
		g := f
		g.Augment, g.Optimizer, g.Out = aug, opt, t.TempDir()
		sw := &Sweep{Flags: g, Data: g.Prepare(data), Jobs: g.MethodJobs()}
		res, err := sw.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	thesis := run(runner.AugmentMethod, runner.OptimizerThesis)
	lars := run(runner.AugmentMethod, runner.OptimizerLARS)
	shapes := run(runner.AugmentShapes, runner.OptimizerLARS)
	if reflect.DeepEqual(thesis.Curve[1:], lars.Curve[1:]) || reflect.DeepEqual(lars.Curve, shapes.Curve) {
		t.Errorf("settings did not change the runs: %+v, %+v, %+v", thesis.Curve, lars.Curve, shapes.Curve)
	}
	img := f.Prepare(data).Train.Image(0)
	if f.Augment = runner.AugmentShapes; !reflect.DeepEqual(img, data.Train.Image(0)) {
		t.Error("Prepare changed the images under -augment auto")
	}
	img = f.Prepare(data).Train.Image(0)
	n := img.H * img.W
	if !reflect.DeepEqual(img.Pix[:n], img.Pix[n:2*n]) {
		t.Error("outlined image is not gray")
	}
}

func reportFigure() report.Figure { return report.Figure{Title: "t", XLabel: "x", Chance: 0.1} }

// TestSmall checks that the scaled-down defaults are valid and resolve to
// the shape views and LARS.
func TestSmall(t *testing.T) {
	f := Small()
	f.Methods, f.Out = []string{"disiam"}, "x"
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	if f.Augment != runner.AugmentShapes || f.Optimizer != runner.OptimizerLARS || f.Train/f.Batch*f.Epochs < 500 {
		t.Errorf("small defaults: %+v", f)
	}
}
