package coco

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/disiam/disiam/detect"
)

// ErrFormat is wrapped by every error about the content of a file: a
// missing or invalid field, a degenerate box, an id that refers to
// nothing. The message around it names the file, the record and the field.
var ErrFormat = errors.New("invalid COCO data")

// Image is one entry of a dataset's "images" list.
type Image struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// Category is one entry of a dataset's "categories" list.
type Category struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Supercategory string `json:"supercategory,omitempty"`
}

// Annotation is one ground-truth object of a dataset's "annotations" list
// (the fields box evaluation reads; segmentations and keypoints are not
// kept).
type Annotation struct {
	ID         int64 `json:"id"`
	ImageID    int64 `json:"image_id"`
	CategoryID int64 `json:"category_id"`
	// BBox is [x, y, width, height] in pixels, x and y the top-left corner.
	BBox [4]float64 `json:"bbox"`
	// Area is the object's area as the file gives it (the segmentation's
	// area in COCO itself). The evaluation's area ranges test this value,
	// not the box's; a file without it gets width·height.
	Area    float64 `json:"area"`
	IsCrowd bool    `json:"iscrowd"`
}

// Box returns the annotation's box in detect's xyxy order.
func (a Annotation) Box() detect.Box {
	return XYWHToBox(a.BBox)
}

// XYWHToBox converts COCO's [x, y, w, h] to detect's [x1, y1, x2, y2].
func XYWHToBox(b [4]float64) detect.Box {
	return detect.Box{b[0], b[1], b[0] + b[2], b[1] + b[3]}
}

// BoxToXYWH converts detect's [x1, y1, x2, y2] to COCO's [x, y, w, h].
func BoxToXYWH(b detect.Box) [4]float64 {
	return [4]float64{b[0], b[1], b[2] - b[0], b[3] - b[1]}
}

// Dataset is a COCO-format ground truth: images, their annotated objects
// and the categories. Category ids are arbitrary positive numbers (COCO's
// 80 classes use ids 1-90 with gaps); the detector works with contiguous
// 0-based class indices, the order of Categories sorted by id, which
// ClassIndex and CategoryID convert between.
//
// A Dataset is read-only after Read or New; its methods are safe for
// concurrent use.
type Dataset struct {
	Images      []Image
	Annotations []Annotation
	// Categories are sorted by id: category k has class index k.
	Categories []Category

	name     string // file name for messages
	imgIndex map[int64]int
	catIndex map[int64]int
	byImage  [][]int // annotation indices per image index, file order
}

// fileData is the JSON layout of a dataset file.
type fileData struct {
	Images      []json.RawMessage `json:"images"`
	Annotations []json.RawMessage `json:"annotations"`
	Categories  []json.RawMessage `json:"categories"`
}

// rawAnn keeps which optional fields were present.
type rawAnn struct {
	ID         *int64     `json:"id"`
	ImageID    *int64     `json:"image_id"`
	CategoryID *int64     `json:"category_id"`
	BBox       *[]float64 `json:"bbox"`
	Area       *float64   `json:"area"`
	IsCrowd    *crowdFlag `json:"iscrowd"`
}

// crowdFlag accepts iscrowd as 0/1 (COCO) or a JSON boolean.
type crowdFlag bool

func (c *crowdFlag) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "0", "false":
		*c = false
	case "1", "true":
		*c = true
	default:
		return fmt.Errorf("iscrowd %s is not 0 or 1", b)
	}
	return nil
}

// Read reads a COCO-format dataset (instances_*.json) from a file.
func Read(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("coco: %w", err)
	}
	defer f.Close()
	return Decode(f, path)
}

// Decode reads a COCO-format dataset from r; name labels error messages
// (usually the file name).
//
// Every record is checked: ids must be unique (annotation ids and image
// ids ≥ 1 as COCO's evaluation assumes), an annotation must name an image
// and a category of the file, its bbox must be four finite numbers with
// positive width and height, and its area must be finite and not negative.
// The first violation is returned as an error naming the file, the list,
// the record's position and id, and the field, wrapping ErrFormat.
func Decode(r io.Reader, name string) (*Dataset, error) {
	var raw fileData
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("coco: %s: %w: %w", name, ErrFormat, err)
	}
	d := &Dataset{name: name}
	for i, m := range raw.Categories {
		var c Category
		if err := json.Unmarshal(m, &c); err != nil {
			return nil, fmt.Errorf("coco: %s: categories[%d]: %w: %w", name, i, ErrFormat, err)
		}
		d.Categories = append(d.Categories, c)
	}
	slices.SortStableFunc(d.Categories, func(a, b Category) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for i, m := range raw.Images {
		var im Image
		if err := json.Unmarshal(m, &im); err != nil {
			return nil, fmt.Errorf("coco: %s: images[%d]: %w: %w", name, i, ErrFormat, err)
		}
		d.Images = append(d.Images, im)
	}
	for i, m := range raw.Annotations {
		var ra rawAnn
		if err := json.Unmarshal(m, &ra); err != nil {
			return nil, fmt.Errorf("coco: %s: annotations[%d]: %w: %w", name, i, ErrFormat, err)
		}
		a, err := ra.annotation()
		if err != nil {
			return nil, fmt.Errorf("coco: %s: annotations[%d]: %w", name, i, err)
		}
		d.Annotations = append(d.Annotations, a)
	}
	if err := d.index(); err != nil {
		return nil, err
	}
	return d, nil
}

func (ra rawAnn) annotation() (Annotation, error) {
	var a Annotation
	switch {
	case ra.ID == nil:
		return a, fmt.Errorf("no id: %w", ErrFormat)
	case ra.ImageID == nil:
		return a, fmt.Errorf("id %d: no image_id: %w", *ra.ID, ErrFormat)
	case ra.CategoryID == nil:
		return a, fmt.Errorf("id %d: no category_id: %w", *ra.ID, ErrFormat)
	case ra.BBox == nil:
		return a, fmt.Errorf("id %d: no bbox: %w", *ra.ID, ErrFormat)
	case len(*ra.BBox) != 4:
		return a, fmt.Errorf("id %d: bbox has %d numbers, want 4: %w", *ra.ID, len(*ra.BBox), ErrFormat)
	}
	a.ID, a.ImageID, a.CategoryID = *ra.ID, *ra.ImageID, *ra.CategoryID
	copy(a.BBox[:], *ra.BBox)
	if ra.IsCrowd != nil {
		a.IsCrowd = bool(*ra.IsCrowd)
	}
	if ra.Area != nil {
		a.Area = *ra.Area
	} else {
		a.Area = a.BBox[2] * a.BBox[3]
	}
	return a, nil
}

// checkAnn validates an annotation's values.
func checkAnn(a Annotation) error {
	for j, v := range a.BBox {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("id %d: bbox[%d] = %v: %w", a.ID, j, v, ErrFormat)
		}
	}
	if !(a.BBox[2] > 0 && a.BBox[3] > 0) {
		return fmt.Errorf("id %d: degenerate bbox %v (width and height must be positive): %w", a.ID, a.BBox, ErrFormat)
	}
	if math.IsNaN(a.Area) || math.IsInf(a.Area, 0) || a.Area < 0 {
		return fmt.Errorf("id %d: area %v: %w", a.ID, a.Area, ErrFormat)
	}
	return nil
}

// index validates the dataset and builds its lookup tables.
func (d *Dataset) index() error {
	d.catIndex = make(map[int64]int, len(d.Categories))
	for k, c := range d.Categories {
		if _, dup := d.catIndex[c.ID]; dup {
			return fmt.Errorf("coco: %s: categories: id %d twice: %w", d.name, c.ID, ErrFormat)
		}
		d.catIndex[c.ID] = k
	}
	d.imgIndex = make(map[int64]int, len(d.Images))
	for i, im := range d.Images {
		if _, dup := d.imgIndex[im.ID]; dup {
			return fmt.Errorf("coco: %s: images[%d]: id %d twice: %w", d.name, i, im.ID, ErrFormat)
		}
		if im.Width < 0 || im.Height < 0 {
			return fmt.Errorf("coco: %s: images[%d]: id %d: size %dx%d: %w", d.name, i, im.ID, im.Width, im.Height, ErrFormat)
		}
		d.imgIndex[im.ID] = i
	}
	d.byImage = make([][]int, len(d.Images))
	annIDs := make(map[int64]bool, len(d.Annotations))
	for i, a := range d.Annotations {
		if a.ID < 1 {
			return fmt.Errorf("coco: %s: annotations[%d]: id %d < 1: %w", d.name, i, a.ID, ErrFormat)
		}
		if annIDs[a.ID] {
			return fmt.Errorf("coco: %s: annotations[%d]: id %d twice: %w", d.name, i, a.ID, ErrFormat)
		}
		annIDs[a.ID] = true
		if err := checkAnn(a); err != nil {
			return fmt.Errorf("coco: %s: annotations[%d]: %w", d.name, i, err)
		}
		ii, ok := d.imgIndex[a.ImageID]
		if !ok {
			return fmt.Errorf("coco: %s: annotations[%d]: id %d: image_id %d is not in images: %w", d.name, i, a.ID, a.ImageID, ErrFormat)
		}
		if _, ok := d.catIndex[a.CategoryID]; !ok {
			return fmt.Errorf("coco: %s: annotations[%d]: id %d: category_id %d is not in categories: %w", d.name, i, a.ID, a.CategoryID, ErrFormat)
		}
		d.byImage[ii] = append(d.byImage[ii], i)
	}
	return nil
}

// New builds a Dataset from values (for example a synthetic set being
// exported), validating them as Decode does; name labels error messages.
// The slices are copied; categories are sorted by id.
func New(name string, images []Image, anns []Annotation, cats []Category) (*Dataset, error) {
	d := &Dataset{name: name, Images: slices.Clone(images), Annotations: slices.Clone(anns), Categories: slices.Clone(cats)}
	slices.SortStableFunc(d.Categories, func(a, b Category) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	if err := d.index(); err != nil {
		return nil, err
	}
	return d, nil
}

// Write writes the dataset as COCO JSON.
func (d *Dataset) Write(w io.Writer) error {
	type out struct {
		Images      []Image      `json:"images"`
		Annotations []Annotation `json:"annotations"`
		Categories  []Category   `json:"categories"`
	}
	o := out{Images: d.Images, Annotations: d.Annotations, Categories: d.Categories}
	if o.Images == nil {
		o.Images = []Image{}
	}
	if o.Annotations == nil {
		o.Annotations = []Annotation{}
	}
	if o.Categories == nil {
		o.Categories = []Category{}
	}
	enc := json.NewEncoder(w)
	return enc.Encode(o)
}

// Name returns the name errors use (the file name for Read).
func (d *Dataset) Name() string { return d.name }

// Classes returns the category names in class-index order.
func (d *Dataset) Classes() []string {
	names := make([]string, len(d.Categories))
	for k, c := range d.Categories {
		names[k] = c.Name
	}
	return names
}

// ClassIndex returns the 0-based class index of a category id.
func (d *Dataset) ClassIndex(categoryID int64) (int, bool) {
	k, ok := d.catIndex[categoryID]
	return k, ok
}

// CategoryID returns the category id of class index k; it panics when k is
// out of range (a programming error).
func (d *Dataset) CategoryID(k int) int64 {
	if k < 0 || k >= len(d.Categories) {
		panic(fmt.Sprintf("coco: class index %d outside [0, %d)", k, len(d.Categories)))
	}
	return d.Categories[k].ID
}

// ImageIndex returns the position in Images of an image id.
func (d *Dataset) ImageIndex(imageID int64) (int, bool) {
	i, ok := d.imgIndex[imageID]
	return i, ok
}

// ImageAnnotations returns the annotations of image index i, file order.
func (d *Dataset) ImageAnnotations(i int) []Annotation {
	out := make([]Annotation, len(d.byImage[i]))
	for j, a := range d.byImage[i] {
		out[j] = d.Annotations[a]
	}
	return out
}

// Objects returns the annotated objects of image index i, file order, as
// detect.Objects: Class is the class index, Box the xyxy box, Crowd
// iscrowd, Attr −1; the 3D fields are zero.
func (d *Dataset) Objects(i int) []detect.Object {
	out := make([]detect.Object, len(d.byImage[i]))
	for j, a := range d.byImage[i] {
		ann := d.Annotations[a]
		out[j] = detect.Object{Class: d.catIndex[ann.CategoryID], Box: ann.Box(), Crowd: ann.IsCrowd, Attr: -1}
	}
	return out
}

// Result is one detection in COCO's results format, the list that
// COCO.loadRes reads and evaluation servers accept.
type Result struct {
	ImageID    int64 `json:"image_id"`
	CategoryID int64 `json:"category_id"`
	// BBox is [x, y, width, height].
	BBox  [4]float64 `json:"bbox"`
	Score float64    `json:"score"`
}

// Results converts the detections of image imageID (class indices, xyxy
// boxes) to results (category ids, xywh boxes). It returns an error for a
// class index outside the dataset's categories.
func (d *Dataset) Results(imageID int64, dets []detect.Detection) ([]Result, error) {
	out := make([]Result, len(dets))
	for j, det := range dets {
		if det.Class < 0 || det.Class >= len(d.Categories) {
			return nil, fmt.Errorf("coco: image %d: detection %d: class %d outside [0, %d)", imageID, j, det.Class, len(d.Categories))
		}
		out[j] = Result{ImageID: imageID, CategoryID: d.Categories[det.Class].ID, BBox: BoxToXYWH(det.Box), Score: det.Score}
	}
	return out, nil
}

// WriteResults writes results as a COCO results JSON list.
func WriteResults(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	return json.NewEncoder(w).Encode(results)
}

// ReadResults reads a COCO results JSON list from a file.
func ReadResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("coco: %w", err)
	}
	defer f.Close()
	return DecodeResults(f, path)
}

// DecodeResults reads a COCO results JSON list from r; name labels error
// messages. Every record needs image_id, category_id, a bbox of four
// finite numbers with width and height ≥ 0 (a detector may output a box
// clipped to zero width; it simply matches nothing) and a finite score.
func DecodeResults(r io.Reader, name string) ([]Result, error) {
	var raw []json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("coco: %s: %w: %w", name, ErrFormat, err)
	}
	out := make([]Result, len(raw))
	for i, m := range raw {
		var rr struct {
			ImageID    *int64     `json:"image_id"`
			CategoryID *int64     `json:"category_id"`
			BBox       *[]float64 `json:"bbox"`
			Score      *float64   `json:"score"`
		}
		if err := json.Unmarshal(m, &rr); err != nil {
			return nil, fmt.Errorf("coco: %s: results[%d]: %w: %w", name, i, ErrFormat, err)
		}
		switch {
		case rr.ImageID == nil:
			return nil, fmt.Errorf("coco: %s: results[%d]: no image_id: %w", name, i, ErrFormat)
		case rr.CategoryID == nil:
			return nil, fmt.Errorf("coco: %s: results[%d]: no category_id: %w", name, i, ErrFormat)
		case rr.BBox == nil || len(*rr.BBox) != 4:
			return nil, fmt.Errorf("coco: %s: results[%d]: bbox must be 4 numbers: %w", name, i, ErrFormat)
		case rr.Score == nil:
			return nil, fmt.Errorf("coco: %s: results[%d]: no score: %w", name, i, ErrFormat)
		}
		res := Result{ImageID: *rr.ImageID, CategoryID: *rr.CategoryID, Score: *rr.Score}
		copy(res.BBox[:], *rr.BBox)
		if err := checkResult(res); err != nil {
			return nil, fmt.Errorf("coco: %s: results[%d]: %w", name, i, err)
		}
		out[i] = res
	}
	return out, nil
}

func checkResult(r Result) error {
	for j, v := range r.BBox {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bbox[%d] = %v: %w", j, v, ErrFormat)
		}
	}
	if r.BBox[2] < 0 || r.BBox[3] < 0 {
		return fmt.Errorf("bbox %v has a negative side: %w", r.BBox, ErrFormat)
	}
	if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
		return fmt.Errorf("score %v: %w", r.Score, ErrFormat)
	}
	return nil
}
