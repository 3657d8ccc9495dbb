package ssl_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/disiam/disiam/knn"
	"github.com/disiam/disiam/ssl"
	"github.com/disiam/disiam/train"
)

// TestTrainerValidates checks that Loop rejects bad settings before
// anything trains: a negative, NaN or infinite base learning rate, a
// method with fewer than two views and an evaluator whose own Validate
// fails (a negative kNN k), each with an error naming the setting.
func TestTrainerValidates(t *testing.T) {
	trainSet, test, norm := trainerData()
	simsiam := resumeMethods()["simsiam"]
	proj, pred := tSimSiamHeads("", 16)
	oneView := &ssl.FastSiam{Backbone: newTinyNet(1, 8, 16), Projector: proj, Predictor: pred, M: 1}
	cases := []struct {
		name  string
		stage ssl.Stage
		k     int
		want  string
	}{
		{"negative lr", ssl.Stage{Method: simsiam(), Epochs: 1, BaseLR: -1}, 0, "stage 0: simsiam: BaseLR -1, want a finite number ≥ 0"},
		{"nan lr", ssl.Stage{Method: simsiam(), Epochs: 1, BaseLR: math.NaN()}, 0, "BaseLR NaN"},
		{"inf lr", ssl.Stage{Method: simsiam(), Epochs: 1, BaseLR: math.Inf(1)}, 0, "BaseLR +Inf"},
		{"one view", ssl.Stage{Method: oneView, Epochs: 1}, 0, "fastsiam: 1 views, want at least 2"},
		{"knn k", ssl.Stage{Method: simsiam(), Epochs: 1}, -1, "ssl: trainer: evaluator: knn: K = -1, want > 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			epochs := 0
			tr := &ssl.Trainer{
				Stages: []ssl.Stage{tc.stage}, Data: trainSet, Norm: norm,
				Evaluator: &knn.Evaluator{Train: trainSet, Test: test, K: tc.k, Norm: norm},
				Config: train.Config{Batch: 32, EvalEvery: 1,
					OnEpoch: func(train.EpochRecord) error { epochs++; return nil }},
			}
			_, err := tr.Run(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if epochs != 0 {
				t.Errorf("%d epochs trained before the error", epochs)
			}
		})
	}
}
