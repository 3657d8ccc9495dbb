package experiment

import (
	"encoding/json"
	"math"
)

// finiteOrNil returns &v, or nil (JSON null) for NaN and ±Inf, which JSON
// cannot hold.
func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// MarshalJSON writes r with null for the accuracies not measured (NaN).
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Initial   *float64 `json:"initial_top1"`
		InitialBN *float64 `json:"initial_top1_bn"`
		Max       *float64 `json:"max_top1"`
		Final     *float64 `json:"final_top1"`
		FinalTop5 *float64 `json:"final_top5"`
	}{plain(r), finiteOrNil(r.Initial), finiteOrNil(r.InitialBN), finiteOrNil(r.Max), finiteOrNil(r.Final), finiteOrNil(r.FinalTop5)})
}

// MarshalJSON writes r with null for the accuracies not measured (NaN).
func (r Resized) MarshalJSON() ([]byte, error) {
	type plain Resized
	return json.Marshal(struct {
		plain
		Initial *float64 `json:"initial_top1"`
		Max     *float64 `json:"max_top1"`
	}{plain(r), finiteOrNil(r.Initial), finiteOrNil(r.Max)})
}
