package nuscenes

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// A record shaped as mmdetection3d's nuscenes_converter writes it,
// including the bare NaN Python's json module emits for unknown velocity.
const mono3d = `{"categories":[{"id":0,"name":"car"},{"id":7,"name":"pedestrian"}],
"images":[{"file_name":"samples/CAM_FRONT/x.jpg","id":"IMG","token":"tok","cam2ego_rotation":[1,0,0,0],
"cam_intrinsic":[[1266.417203046554,0.0,816.2670197447984],[0.0,1266.417203046554,491.50706579294757],[0.0,0.0,1.0]],"width":1600,"height":900}],
"annotations":[
{"file_name":"x.jpg","image_id":"IMG","area":12000.0,"category_name":"car","category_id":0,"bbox":[850.0,480.0,150.0,80.0],"iscrowd":0,
 "bbox_cam3d":[2.0,1.0,20.0,4.5,1.6,1.9,-1.2],"velo_cam3d":[1.5,-0.5],"center2d":[942.9087400494538,554.8279259450972,20.0],"attribute_id":5,"attribute_name":"vehicle.moving","segmentation":[],"id":0},
{"file_name":"x.jpg","image_id":"IMG","area":600.0,"category_name":"pedestrian","category_id":7,"bbox":[100.0,400.0,20.0,30.0],"iscrowd":0,
 "bbox_cam3d":[-9.0,0.5,15.0,0.7,1.8,0.6,0.3],"velo_cam3d":[NaN,NaN],"center2d":[56.48,533.7,15.0],"attribute_id":3,"attribute_name":"pedestrian.standing","id":1},
{"file_name":"x.jpg","image_id":"IMG","area":0.5,"category_name":"car","category_id":0,"bbox":[1599.5,10.0,0.5,1.0],"iscrowd":0,
 "bbox_cam3d":[30.0,1.0,20.0,4.5,1.6,1.9,0.0],"velo_cam3d":[0,0],"center2d":[2716,554,20.0],"attribute_id":6,"id":2}
]}`

func TestDecodeMono3D(t *testing.T) {
	// Image ids in the converter are tokens or numbers; here a string id
	// must be an error (ids are numbers in COCO).
	if _, err := DecodeMono3D([]byte(mono3d), "m.json"); err == nil {
		t.Fatal("string image id accepted")
	}
	data := strings.ReplaceAll(mono3d, `"IMG"`, `42`)
	m, err := DecodeMono3D([]byte(data), "m.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Images) != 1 || len(m.Objects[0]) != 2 || m.Skipped != 1 {
		t.Fatalf("images %d objects %d skipped %d", len(m.Images), len(m.Objects[0]), m.Skipped)
	}
	if m.Classes[0] != "car" || m.Classes[1] != "pedestrian" {
		t.Errorf("classes %v", m.Classes)
	}
	car, ped := m.Objects[0][0], m.Objects[0][1]
	if car.Class != 0 || car.Center != [3]float64{2, 1, 20} || car.Size != [3]float64{4.5, 1.6, 1.9} || car.Yaw != -1.2 || car.Velocity != [2]float64{1.5, -0.5} || car.Attr != 5 {
		t.Errorf("car %+v", car)
	}
	if ped.Class != 1 || ped.Velocity != [2]float64{} || ped.Attr != 3 {
		t.Errorf("pedestrian %+v (NaN velocity loads as 0)", ped)
	}
	// center2d is the projection of the gravity centre through the
	// intrinsics, with depth z.
	u, v, d := m.Images[0].Camera.Project(car.Center)
	c := m.Center2D[0][0]
	if math.Abs(u-c[0]) > 1e-9 || math.Abs(v-c[1]) > 1e-9 || d != c[2] {
		t.Errorf("projected (%v %v %v), file %v", u, v, d, c)
	}
}

func TestDecodeMono3DErrors(t *testing.T) {
	base := strings.ReplaceAll(mono3d, `"IMG"`, `42`)
	cases := []struct{ name, from, to, want string }{
		{"short bbox_cam3d", `"bbox_cam3d":[2.0,1.0,20.0,4.5,1.6,1.9,-1.2]`, `"bbox_cam3d":[2.0,1.0,20.0]`, "annotations[0]: id 0: bbox_cam3d has 3"},
		{"zero size", `4.5,1.6,1.9,-1.2`, `4.5,0,1.9,-1.2`, "size"},
		{"unknown category", `"category_id":7`, `"category_id":8`, "annotations[1]: id 1: category_id 8"},
		{"attribute", `"attribute_id":5`, `"attribute_id":9`, "attribute_id 9"},
		{"intrinsic", `,[0.0,0.0,1.0]]`, `]`, "cam_intrinsic"},
		{"nan position", `"bbox_cam3d":[2.0`, `"bbox_cam3d":[NaN`, "bbox_cam3d"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMono3D([]byte(strings.Replace(base, tc.from, tc.to, 1)), "m.json")
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.json") {
				t.Errorf("error %v, want ErrFormat naming m.json and %q", err, tc.want)
			}
		})
	}
}

func TestNaNToNull(t *testing.T) {
	in := `{"a":NaN,"b":"NaN \"NaN\"","c":[NaN]}`
	want := `{"a":null,"b":"NaN \"NaN\"","c":[null]}`
	if got := string(nanToNull([]byte(in))); got != want {
		t.Errorf("%s, want %s", got, want)
	}
}
