package nuscenes

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/disiam/disiam/detect"
)

// Mono3DImage is one image of a COCO-mono3d file.
type Mono3DImage struct {
	ID       int64
	FileName string
	// Token is nuScenes' sample_data token, Sample its sample token (when
	// the file has them).
	Token, Sample string
	Width, Height int
	// Camera is cam_intrinsic as K|0.
	Camera detect.Camera
}

// Mono3D is a COCO-mono3d dataset: images with intrinsics and, per image,
// its objects with 2D and 3D labels.
type Mono3D struct {
	Images []Mono3DImage
	// Objects[i] are image i's objects (file order): Class is the index of
	// the category in Classes, Box the 2D box (xyxy), Center the gravity
	// centre (bbox_cam3d x, y, z), Size (l, h, w), Yaw, Velocity
	// velo_cam3d (0 where the file has NaN, as mmdetection3d loads it),
	// Attr attribute_id.
	Objects [][]detect.Object
	// Center2D[i][j] is the file's center2d (u, v, depth) of Objects[i][j].
	Center2D [][][3]float64
	// Classes are the category names, ordered by category id.
	Classes []string
	// Skipped counts annotations mmdetection3d's loader drops: ignore
	// flags, 2D boxes narrower or lower than 1 pixel, area ≤ 0, boxes
	// entirely outside the image.
	Skipped int
}

// ReadMono3D reads a COCO-mono3d file.
func ReadMono3D(path string) (*Mono3D, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nuscenes: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("nuscenes: %s: %w", path, err)
	}
	return DecodeMono3D(b, path)
}

// nanToNull replaces the bare NaN tokens Python's json module writes
// (outside strings) by null, so that the file parses as JSON.
func nanToNull(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == 'N' && i+3 <= len(b) && string(b[i:i+3]) == "NaN":
			out = append(out, "null"...)
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

type monoAnn struct {
	ID          *int64     `json:"id"`
	ImageID     *int64     `json:"image_id"`
	CategoryID  *int64     `json:"category_id"`
	BBox        []*float64 `json:"bbox"`
	Area        *float64   `json:"area"`
	IsCrowd     int        `json:"iscrowd"`
	Ignore      bool       `json:"ignore"`
	BBoxCam3D   []*float64 `json:"bbox_cam3d"`
	VeloCam3D   []*float64 `json:"velo_cam3d"`
	Center2D    []*float64 `json:"center2d"`
	AttributeID *int       `json:"attribute_id"`
}

// DecodeMono3D parses the contents of a COCO-mono3d file, the output of
// mmdetection3d's nuscenes_converter (…_mono3d.coco.json); name labels
// errors. Each image needs cam_intrinsic (3×3); each annotation
// image_id, category_id, bbox (xywh), bbox_cam3d [x, y, z, l, h, w, yaw]
// (gravity centre in the camera frame), velo_cam3d [vx, vz], center2d [u,
// v, depth] and attribute_id (0..8, 8 = None). A missing field, a wrong
// length, a non-finite number (velocity aside), non-positive 3D sizes, an
// unknown image or category are errors naming the file and the record.
// Annotations mmdetection3d's loader skips (see Mono3D.Skipped) are
// skipped.
func DecodeMono3D(data []byte, name string) (*Mono3D, error) {
	var raw struct {
		Images []struct {
			ID           *int64      `json:"id"`
			FileName     string      `json:"file_name"`
			Token        string      `json:"token"`
			SampleToken  string      `json:"sample_token"`
			Width        int         `json:"width"`
			Height       int         `json:"height"`
			CamIntrinsic [][]float64 `json:"cam_intrinsic"`
		} `json:"images"`
		Annotations []monoAnn `json:"annotations"`
		Categories  []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"categories"`
	}
	if err := json.Unmarshal(nanToNull(data), &raw); err != nil {
		return nil, fmt.Errorf("nuscenes: %s: %w: %w", name, ErrFormat, err)
	}
	m := &Mono3D{}
	cats := slices.Clone(raw.Categories)
	slices.SortStableFunc(cats, func(a, b struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	catIndex := map[int64]int{}
	for k, c := range cats {
		if _, dup := catIndex[c.ID]; dup {
			return nil, fmt.Errorf("nuscenes: %s: categories: id %d twice: %w", name, c.ID, ErrFormat)
		}
		catIndex[c.ID] = k
		m.Classes = append(m.Classes, c.Name)
	}
	imgIndex := map[int64]int{}
	for i, im := range raw.Images {
		if im.ID == nil {
			return nil, fmt.Errorf("nuscenes: %s: images[%d]: no id: %w", name, i, ErrFormat)
		}
		if _, dup := imgIndex[*im.ID]; dup {
			return nil, fmt.Errorf("nuscenes: %s: images[%d]: id %d twice: %w", name, i, *im.ID, ErrFormat)
		}
		k := im.CamIntrinsic
		if len(k) != 3 || len(k[0]) != 3 || len(k[1]) != 3 || len(k[2]) != 3 {
			return nil, fmt.Errorf("nuscenes: %s: images[%d]: id %d: cam_intrinsic must be 3×3: %w", name, i, *im.ID, ErrFormat)
		}
		var cam detect.Camera
		for r := range 3 {
			for c := range 3 {
				if v := k[r][c]; math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("nuscenes: %s: images[%d]: id %d: cam_intrinsic[%d][%d] = %v: %w", name, i, *im.ID, r, c, v, ErrFormat)
				}
				cam.P[r][c] = k[r][c]
			}
		}
		if !(cam.P[0][0] > 0 && cam.P[1][1] > 0) {
			return nil, fmt.Errorf("nuscenes: %s: images[%d]: id %d: focal lengths must be positive: %w", name, i, *im.ID, ErrFormat)
		}
		imgIndex[*im.ID] = i
		m.Images = append(m.Images, Mono3DImage{ID: *im.ID, FileName: im.FileName, Token: im.Token, Sample: im.SampleToken, Width: im.Width, Height: im.Height, Camera: cam})
	}
	m.Objects = make([][]detect.Object, len(m.Images))
	m.Center2D = make([][][3]float64, len(m.Images))
	for j, a := range raw.Annotations {
		o, c2, img, skip, err := a.object(catIndex, imgIndex, m.Images)
		if err != nil {
			id := "?"
			if a.ID != nil {
				id = fmt.Sprint(*a.ID)
			}
			return nil, fmt.Errorf("nuscenes: %s: annotations[%d]: id %s: %w", name, j, id, err)
		}
		if skip {
			m.Skipped++
			continue
		}
		m.Objects[img] = append(m.Objects[img], o)
		m.Center2D[img] = append(m.Center2D[img], c2)
	}
	return m, nil
}

func (a monoAnn) object(catIndex, imgIndex map[int64]int, images []Mono3DImage) (o detect.Object, c2 [3]float64, img int, skip bool, err error) {
	var bbox, box3d, center []float64
	vec := func(field string, v []*float64, n int, dst *[]float64) error {
		if len(v) != n {
			return fmt.Errorf("%s has %d numbers, want %d: %w", field, len(v), n, ErrFormat)
		}
		for i, x := range v {
			if x == nil {
				return fmt.Errorf("%s[%d] is NaN or null: %w", field, i, ErrFormat)
			}
			*dst = append(*dst, *x)
		}
		return nil
	}
	switch {
	case a.ImageID == nil:
		return o, c2, 0, false, fmt.Errorf("no image_id: %w", ErrFormat)
	case a.CategoryID == nil:
		return o, c2, 0, false, fmt.Errorf("no category_id: %w", ErrFormat)
	case a.AttributeID == nil:
		return o, c2, 0, false, fmt.Errorf("no attribute_id: %w", ErrFormat)
	}
	img, ok := imgIndex[*a.ImageID]
	if !ok {
		return o, c2, 0, false, fmt.Errorf("image_id %d is not in images: %w", *a.ImageID, ErrFormat)
	}
	k, ok := catIndex[*a.CategoryID]
	if !ok {
		return o, c2, 0, false, fmt.Errorf("category_id %d is not in categories: %w", *a.CategoryID, ErrFormat)
	}
	if *a.AttributeID < 0 || *a.AttributeID >= len(Attributes) {
		return o, c2, 0, false, fmt.Errorf("attribute_id %d outside [0, %d): %w", *a.AttributeID, len(Attributes), ErrFormat)
	}
	for _, e := range []error{vec("bbox", a.BBox, 4, &bbox), vec("bbox_cam3d", a.BBoxCam3D, 7, &box3d), vec("center2d", a.Center2D, 3, &center)} {
		if e != nil {
			return o, c2, 0, false, e
		}
	}
	if len(a.VeloCam3D) != 2 {
		return o, c2, 0, false, fmt.Errorf("velo_cam3d has %d numbers, want 2: %w", len(a.VeloCam3D), ErrFormat)
	}
	for i := 3; i < 6; i++ {
		if box3d[i] <= 0 {
			return o, c2, 0, false, fmt.Errorf("bbox_cam3d size %v must be positive: %w", box3d[3:6], ErrFormat)
		}
	}
	// mmdetection3d's _parse_ann_info filter.
	x, y, w, h := bbox[0], bbox[1], bbox[2], bbox[3]
	im := images[img]
	iw := math.Max(0, math.Min(x+w, float64(im.Width))-math.Max(x, 0))
	ih := math.Max(0, math.Min(y+h, float64(im.Height))-math.Max(y, 0))
	area := w * h
	if a.Area != nil {
		area = *a.Area
	}
	if a.Ignore || iw*ih == 0 || area <= 0 || w < 1 || h < 1 {
		return o, c2, img, true, nil
	}
	o = detect.Object{
		Class:  k,
		Box:    detect.Box{x, y, x + w, y + h},
		Crowd:  a.IsCrowd != 0,
		Center: [3]float64{box3d[0], box3d[1], box3d[2]},
		Size:   [3]float64{box3d[3], box3d[4], box3d[5]},
		Yaw:    box3d[6],
		Attr:   *a.AttributeID,
	}
	if a.VeloCam3D[0] != nil && a.VeloCam3D[1] != nil && !math.IsNaN(*a.VeloCam3D[0]) {
		o.Velocity = [2]float64{*a.VeloCam3D[0], *a.VeloCam3D[1]}
	}
	copy(c2[:], center)
	return o, c2, img, false, nil
}
