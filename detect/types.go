package detect

// Box is an axis-aligned box in input pixels, torchvision's xyxy order:
// x1, y1 (top left), x2, y2 (bottom right), x2 > x1 and y2 > y1.
type Box [4]float64

// Width returns x2 − x1.
func (b Box) Width() float64 { return b[2] - b[0] }

// Height returns y2 − y1.
func (b Box) Height() float64 { return b[3] - b[1] }

// Area returns (x2 − x1)(y2 − y1), without torchvision's old +1.
func (b Box) Area() float64 { return b.Width() * b.Height() }

// Object is one annotated object of an image. 2D detection uses Class,
// Box and Crowd; monocular 3D detection also the 3D state.
type Object struct {
	// Class is the 0-based class index (the logit index).
	Class int
	// Box is the 2D box in the image.
	Box Box
	// Crowd is COCO's iscrowd: ignored in training, crowd-matched in
	// evaluation.
	Crowd bool
	// Center is the box's gravity centre in the camera frame (x right,
	// y down, z forward), metres.
	Center [3]float64
	// Size is (l, h, w), metres, as mmdetection3d's CameraInstance3DBoxes
	// orders it.
	Size [3]float64
	// Yaw is the global yaw (KITTI rotation_y) in the camera frame.
	Yaw float64
	// Velocity is (vx, vz) in the camera frame, metres per second.
	Velocity [2]float64
	// Attr is the attribute index (nuScenes attributes), −1 for none.
	Attr int
}

// Detection is one detected 2D object.
type Detection struct {
	Box   Box
	Score float64
	Class int
}

// Detection3D is one detected 3D object: the decoded object (its 2D box,
// class and 3D state) with its score.
type Detection3D struct {
	Object
	Score float64
}
