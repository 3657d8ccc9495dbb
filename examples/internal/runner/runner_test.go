package runner

import (
	"reflect"
	"strings"
	"testing"

	"github.com/disiam/disiam/dataset"
	"github.com/disiam/disiam/ssl"
)

func TestParseStages(t *testing.T) {
	tests := []struct {
		name, method, chain string
		epochs              int
		want                []StagePlan
		err                 string
	}{
		{name: "single", method: "simsiam", epochs: 3, want: []StagePlan{{"simsiam", 3}}},
		{name: "chain rest", chain: "simclr:2,disiam", epochs: 5, want: []StagePlan{{"simclr", 2}, {"disiam", 3}}},
		{name: "chain all given", chain: "simclr:1, disiam:4", epochs: 9, want: []StagePlan{{"simclr", 1}, {"disiam", 4}}},
		{name: "no epochs", method: "simsiam", epochs: 0, err: "-epochs 0"},
		{name: "two open", chain: "simclr,disiam", epochs: 4, err: "only one stage"},
		{name: "bad count", chain: "simclr:x,disiam", epochs: 4, err: "bad epoch count"},
		{name: "zero count", chain: "simclr:0,disiam", epochs: 4, err: "bad epoch count"},
		{name: "nothing left", chain: "simclr:4,disiam", epochs: 4, err: "leave no epochs"},
		{name: "too many", chain: "simclr:10", epochs: 1, err: "the stages take 10 epochs, more than -epochs 1"},
		{name: "too many two", chain: "simclr:2,disiam:3", epochs: 4, err: "more than -epochs 4"},
		{name: "empty stage", chain: "simclr:2,,disiam", epochs: 4, err: "names no method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStages(tc.method, tc.chain, tc.epochs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestChainName(t *testing.T) {
	if got := ChainName([]StagePlan{{"disiam", 3}}); got != "disiam" {
		t.Errorf("single: %q", got)
	}
	if got := ChainName([]StagePlan{{"simclr", 2}, {"disiam", 3}}); got != "simclr:2,disiam:3" {
		t.Errorf("chain: %q", got)
	}
}

func TestOpenSplitAndStats(t *testing.T) {
	ds, err := OpenSplit("synthetic", dataset.Train, 10)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 10 || ds.Image(0).C != 3 {
		t.Fatalf("len %d, channels %d", ds.Len(), ds.Image(0).C)
	}
	norm := ChannelStats(ds)
	if len(norm.Mean) != 3 || len(norm.Std) != 3 {
		t.Fatalf("stats %v", norm)
	}
	for c := range 3 {
		if norm.Mean[c] <= 0 || norm.Mean[c] >= 1 || norm.Std[c] <= 0 || norm.Std[c] >= 1 {
			t.Errorf("channel %d: mean %v std %v outside (0, 1)", c, norm.Mean[c], norm.Std[c])
		}
	}
	if _, err := OpenSplit("nosuchdataset:", dataset.Train, 0); err == nil {
		t.Error("unknown spec opened")
	}
}

func TestNetworksShareBackbones(t *testing.T) {
	n := &Networks{Backbone: "resnet18", Assistant: "resnet18", Seed: 3, ProjectionLayers: 3}
	plan := []StagePlan{{ssl.NameSimCLR, 1}, {ssl.NameDiSiam, 1}, {ssl.NameDiSiamPlus, 1}}
	stages, err := n.Stages(plan, 0.05, 2, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	on := stages[0].Method.Encoder()
	d := stages[1].Method.(*ssl.DiSiam)
	dp := stages[2].Method.(*ssl.DiSiam)
	if d.Online != on || dp.Online != on || d.Assistant != dp.Assistant || d.Assistant == on {
		t.Error("stages do not share the online backbone and the assistant")
	}
	if dp.M != ssl.DefaultDiSiamPlusViews || d.M != 2 {
		t.Errorf("views %d and %d", d.M, dp.M)
	}
	if got := len(d.OnlineProjector.(*ssl.MLP).Blocks()); got != 3 {
		t.Errorf("projector has %d layers, want 3", got)
	}
	if stages[0].Switch == nil || stages[2].Switch != nil || stages[1].BaseLR != 0.05 {
		t.Error("switch rule or learning rate not set as asked")
	}
	if _, err := n.Method("nosuch"); err == nil {
		t.Error("unknown method built")
	}
}

func TestHeadDim(t *testing.T) {
	tests := []struct {
		name       string
		headDim    int
		layers     int
		projOut    int
		predHidden int
		projBlocks int
	}{
		{name: "papers", projOut: 2048, predHidden: 512, projBlocks: 2},
		{name: "narrow", headDim: 64, projOut: 64, predHidden: 16, projBlocks: 2},
		{name: "narrow 3 layers", headDim: 64, layers: 3, projOut: 64, predHidden: 16, projBlocks: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := &Networks{Backbone: "resnet18-w4", Assistant: "resnet18-w4", Seed: 1, HeadDim: tc.headDim, ProjectionLayers: tc.layers}
			m, err := n.Method(ssl.NameDiSiam)
			if err != nil {
				t.Fatal(err)
			}
			d := m.(*ssl.DiSiam)
			for _, h := range []ssl.Head{d.OnlineProjector, d.AssistantProjector} {
				b := h.(*ssl.MLP).Blocks()
				if len(b) != tc.projBlocks || b[len(b)-1].Out != tc.projOut {
					t.Errorf("projector blocks %+v", b)
				}
			}
			for _, h := range []ssl.Head{d.OnlinePredictor, d.AssistantPredictor} {
				b := h.(*ssl.MLP).Blocks()
				if b[0].In != tc.projOut || b[0].Out != tc.predHidden || b[1].Out != tc.projOut {
					t.Errorf("predictor blocks %+v", b)
				}
			}
			c, err := n.Method(ssl.NameSimCLR)
			if err != nil {
				t.Fatal(err)
			}
			b := c.(*ssl.SimCLR).Projector.(*ssl.MLP).Blocks()
			if want := max(tc.headDim, 0); want != 0 && b[0].Out != want || b[len(b)-1].Out != ssl.SimCLROut {
				t.Errorf("SimCLR projector %+v", b)
			}
		})
	}
}

// TestHeadsUnchangedByDefault checks that Networks builds, without the
// head options, exactly the ssl constructors' methods (same parameter
// values), so that examples/pretrain's numbers did not change.
func TestHeadsUnchangedByDefault(t *testing.T) {
	for _, name := range []string{ssl.NameSimSiam, ssl.NameDiSiam} {
		n1 := &Networks{Backbone: "resnet18-w4", Assistant: "resnet18-w4", Seed: 3}
		n2 := &Networks{Backbone: "resnet18-w4", Assistant: "resnet18-w4", Seed: 3, ProjectionLayers: 2, HeadDim: ssl.SimSiamHidden}
		a, err := n1.Method(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := n2.Method(name)
		if err != nil {
			t.Fatal(err)
		}
		pa, pb := a.Parts().Params(), b.Parts().Params()
		if len(pa) != len(pb) {
			t.Fatalf("%s: %d vs %d parameters", name, len(pa), len(pb))
		}
		for i := range pa {
			if pa[i].Name != pb[i].Name || !reflect.DeepEqual(pa[i].Value.Data(), pb[i].Value.Data()) {
				t.Fatalf("%s: parameter %d: %s differs from %s", name, i, pa[i].Name, pb[i].Name)
			}
		}
	}
}

func TestLists(t *testing.T) {
	if got := ParseList(" a, ,b ,"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("ParseList %q", got)
	}
	if got, err := ParseSeeds("7, 41,923"); err != nil || !reflect.DeepEqual(got, []uint64{7, 41, 923}) {
		t.Errorf("ParseSeeds %v %v", got, err)
	}
	if _, err := ParseSeeds("7,-1"); err == nil {
		t.Error("negative seed accepted")
	}
	if got, err := ParseFloats("0.03,0.06"); err != nil || !reflect.DeepEqual(got, []float64{0.03, 0.06}) {
		t.Errorf("ParseFloats %v %v", got, err)
	}
	if _, err := ParseFloats("0.03,x"); err == nil {
		t.Error("bad number accepted")
	}
}

// Progress writes plain lines, not carriage returns, to a non-terminal.
func TestProgressPlain(t *testing.T) {
	var b strings.Builder
	p := Progress(&b, "extracting")
	p(1, 4)
	p(2, 4)
	p(4, 4)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if strings.Contains(b.String(), "\r") || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "extracting [=====               ] 1/4") ||
		!strings.HasPrefix(lines[1], "extracting [====================] 4/4") {
		t.Errorf("progress output %q", b.String())
	}
}
