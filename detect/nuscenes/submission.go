package nuscenes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Meta is a submission's "meta" block: which sensors and data the method
// used.
type Meta struct {
	UseCamera   bool `json:"use_camera"`
	UseLidar    bool `json:"use_lidar"`
	UseRadar    bool `json:"use_radar"`
	UseMap      bool `json:"use_map"`
	UseExternal bool `json:"use_external"`
}

// sampleResult is one box in the submission format.
type sampleResult struct {
	SampleToken    string     `json:"sample_token"`
	Translation    [3]float64 `json:"translation"`
	Size           [3]float64 `json:"size"`
	Rotation       [4]float64 `json:"rotation"`
	Velocity       [2]float64 `json:"velocity"`
	DetectionName  string     `json:"detection_name"`
	DetectionScore float64    `json:"detection_score"`
	AttributeName  string     `json:"attribute_name"`
}

// WriteSubmission writes predictions as a nuScenes detection submission:
// {"meta": ..., "results": {sample_token: [box, ...], ...}}, samples in
// order of first appearance. Every box is checked as Evaluate checks
// predictions.
func WriteSubmission(w io.Writer, meta Meta, pred []Box) error {
	for i, b := range pred {
		if err := b.Check(true); err != nil {
			return errorf("prediction", i, b, err)
		}
	}
	g := group(pred)
	bw := bufio.NewWriter(w)
	mb, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "{\"meta\":%s,\"results\":{", mb)
	for si, s := range g.order {
		if si > 0 {
			bw.WriteByte(',')
		}
		kb, _ := json.Marshal(s)
		bw.Write(kb)
		bw.WriteByte(':')
		list := make([]sampleResult, len(g.boxes[s]))
		for j, b := range g.boxes[s] {
			list[j] = sampleResult{b.Sample, b.Translation, b.Size, b.Rotation, b.Velocity, b.Name, b.Score, b.Attribute}
		}
		lb, err := json.Marshal(list)
		if err != nil {
			return err
		}
		bw.Write(lb)
	}
	bw.WriteString("}}\n")
	return bw.Flush()
}

// ReadSubmission reads a submission file.
func ReadSubmission(path string) (Meta, []Box, error) {
	f, err := os.Open(path)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("nuscenes: %w", err)
	}
	defer f.Close()
	return DecodeSubmission(f, path)
}

// DecodeSubmission reads a submission from r, keeping the order of the
// samples and of their boxes; name labels errors. Every box must carry
// every field, name its own sample, and pass Box.Check; errors name the
// file, the sample and the box's position.
func DecodeSubmission(r io.Reader, name string) (Meta, []Box, error) {
	var raw struct {
		Meta    *Meta           `json:"meta"`
		Results json.RawMessage `json:"results"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return Meta{}, nil, fmt.Errorf("nuscenes: %s: %w: %w", name, ErrFormat, err)
	}
	if raw.Meta == nil || raw.Results == nil {
		return Meta{}, nil, fmt.Errorf("nuscenes: %s: needs \"meta\" and \"results\": %w", name, ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Results))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Meta{}, nil, fmt.Errorf("nuscenes: %s: results is not an object: %w", name, ErrFormat)
	}
	var out []Box
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Meta{}, nil, fmt.Errorf("nuscenes: %s: results: %w: %w", name, ErrFormat, err)
		}
		sample := t.(string)
		var list []map[string]json.RawMessage
		if err := dec.Decode(&list); err != nil {
			return Meta{}, nil, fmt.Errorf("nuscenes: %s: results[%q]: %w: %w", name, sample, ErrFormat, err)
		}
		for j, m := range list {
			b, err := decodeBox(m)
			if err == nil && b.Sample != sample {
				err = fmt.Errorf("sample_token %q differs from its key: %w", b.Sample, ErrFormat)
			}
			if err == nil {
				err = b.Check(true)
			}
			if err != nil {
				return Meta{}, nil, fmt.Errorf("nuscenes: %s: results[%q][%d]: %w", name, sample, j, err)
			}
			out = append(out, b)
		}
	}
	return *raw.Meta, out, nil
}

func decodeBox(m map[string]json.RawMessage) (Box, error) {
	var b Box
	get := func(key string, dst any) error {
		v, ok := m[key]
		if !ok {
			return fmt.Errorf("no %s: %w", key, ErrFormat)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s: %w: %w", key, ErrFormat, err)
		}
		return nil
	}
	vec := func(key string, dst []float64) error {
		var v []float64
		if err := get(key, &v); err != nil {
			return err
		}
		if len(v) != len(dst) {
			return fmt.Errorf("%s has %d numbers, want %d: %w", key, len(v), len(dst), ErrFormat)
		}
		copy(dst, v)
		return nil
	}
	for _, err := range []error{
		get("sample_token", &b.Sample), vec("translation", b.Translation[:]), vec("size", b.Size[:]),
		vec("rotation", b.Rotation[:]), vec("velocity", b.Velocity[:]), get("detection_name", &b.Name),
		get("detection_score", &b.Score), get("attribute_name", &b.Attribute),
	} {
		if err != nil {
			return b, err
		}
	}
	return b, nil
}
