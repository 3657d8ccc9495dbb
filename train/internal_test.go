package train

import (
	"math"
	"strings"
	"testing"

	"github.com/disiam/disiam/backbone"
)

func TestPlateauRule(t *testing.T) {
	cases := []struct {
		name   string
		p      Plateau
		values []float64
		want   bool
	}{
		{"too few values", Plateau{Patience: 2, Threshold: 0.01}, []float64{0.3, 0.3}, false},
		{"flat", Plateau{Patience: 2, Threshold: 0.01}, []float64{0.3, 0.3, 0.3}, true},
		{"improving", Plateau{Patience: 2, Threshold: 0.01}, []float64{0.3, 0.3, 0.31}, false},
		{"improving below threshold", Plateau{Patience: 2, Threshold: 0.05}, []float64{0.3, 0.3, 0.31}, true},
		{"worse", Plateau{Patience: 1, Threshold: 0}, []float64{0.5, 0.4}, true},
		{"best before the window", Plateau{Patience: 2, Threshold: 0.01}, []float64{0.2, 0.5, 0.45, 0.49}, true},
		{"negative (loss) values", Plateau{Patience: 1, Threshold: 0.01, Metric: MetricLoss}, []float64{0.5, 0.6}, false},
		{"negative values, flat", Plateau{Patience: 1, Threshold: 0.01, Metric: MetricLoss}, []float64{-0.5, -0.499}, true},
		{"zero before", Plateau{Patience: 1, Threshold: 0.01}, []float64{0, 0}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.reached(tc.values); got != tc.want {
				t.Errorf("reached(%v) = %v, want %v", tc.values, got, tc.want)
			}
		})
	}
	var nilRule *Plateau
	if nilRule.reached([]float64{1, 1, 1, 1}) {
		t.Error("a nil rule switched")
	}
	if (&Plateau{Patience: 0}).validate() == nil || (&Plateau{Patience: 1, Threshold: math.NaN()}).validate() == nil {
		t.Error("invalid rules accepted")
	}
}

// randomCounters finds EfficientNet-B0's 16 stochastic-depth layers and
// its classifier dropout; ResNet has none.
func TestRandomCounters(t *testing.T) {
	eff, err := backbone.New("efficientnet_b0", backbone.Config{NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := backbone.New("resnet18", backbone.Config{NoInit: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := randomCounters(Parts{{Prefix: "backbone.", Module: eff, Trainable: true}, {Prefix: "assistant_backbone.", Module: res, Trainable: true}})
	if len(cs) != 17 {
		t.Fatalf("%d counters, want 17", len(cs))
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.path] || !strings.HasPrefix(c.path, "part0(backbone)") {
			t.Errorf("counter path %q", c.path)
		}
		seen[c.path] = true
	}
	*cs[3].counter = 42
	if eff.(*backbone.EfficientNet).Blocks()[3].StochasticDepth.Counter != 42 {
		t.Error("counter does not point into the network")
	}
}

func TestSameIdentity(t *testing.T) {
	a := map[string]string{"batch": "64", "lr": "0.1"}
	if err := sameIdentity("ckpt", a, map[string]string{"lr": "0.1", "batch": "64"}); err != nil {
		t.Errorf("same identity refused: %v", err)
	}
	cases := []struct {
		now  map[string]string
		want string
	}{
		{map[string]string{"batch": "32", "lr": "0.1"}, `batch = "64"; this run has batch = "32"`},
		{map[string]string{"batch": "64"}, `lr = "0.1"; this run has lr = unset`},
		{map[string]string{"batch": "64", "lr": "0.1", "data": "x"}, `data = unset; this run has data = "x"`},
	}
	for _, tc := range cases {
		err := sameIdentity("ckpt", a, tc.now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sameIdentity(%v) = %v, want an error with %q", tc.now, err, tc.want)
		}
	}
}
