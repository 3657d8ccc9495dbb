package experiment

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
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

// UnmarshalJSON reads what MarshalJSON writes: null accuracies become NaN.
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	var v struct {
		plain
		Initial   *float64 `json:"initial_top1"`
		InitialBN *float64 `json:"initial_top1_bn"`
		Max       *float64 `json:"max_top1"`
		Final     *float64 `json:"final_top1"`
		FinalTop5 *float64 `json:"final_top5"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Result(v.plain)
	r.Initial, r.InitialBN, r.Max, r.Final, r.FinalTop5 = nanIfNil(v.Initial), nanIfNil(v.InitialBN), nanIfNil(v.Max), nanIfNil(v.Final), nanIfNil(v.FinalTop5)
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes: null accuracies become NaN.
func (r *Resized) UnmarshalJSON(b []byte) error {
	type plain Resized
	var v struct {
		plain
		Initial *float64 `json:"initial_top1"`
		Max     *float64 `json:"max_top1"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Resized(v.plain)
	r.Initial, r.Max = nanIfNil(v.Initial), nanIfNil(v.Max)
	return nil
}

func nanIfNil(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// ReadRuns reads the results and the data spec of the runs.json files a
// sweep wrote into each of dirs (Sweep.Run), for reporting runs made in
// parts as one grid. Errors name the file.
func ReadRuns(dirs ...string) (results []Result, data string, err error) {
	for _, d := range dirs {
		path := filepath.Join(d, "runs.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, "", err
		}
		var v struct {
			Config struct {
				Data string `json:"data"`
			} `json:"config"`
			Results []Result `json:"results"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		if len(v.Results) == 0 {
			return nil, "", fmt.Errorf("%s: no runs", path)
		}
		if data == "" {
			data = v.Config.Data
		}
		results = append(results, v.Results...)
	}
	return results, data, nil
}
