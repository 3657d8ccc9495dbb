package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"path/filepath"
	"testing"
)

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func encode(t testing.TB, m image.Image, format string) []byte {
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, m)
	case "jpg":
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&buf, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pixel returns the RGB bytes of image i at (x, y).
func pixel(s *U8Set, i, x, y int) [3]uint8 {
	n := s.H * s.W
	base := i * 3 * n
	o := y*s.W + x
	return [3]uint8{s.Pix[base+o], s.Pix[base+n+o], s.Pix[base+2*n+o]}
}

func TestLoadFolder(t *testing.T) {
	root := t.TempDir()
	red := color.NRGBA{200, 10, 30, 255}
	// Classes are sorted: "apple" (0) before "zebra" (1).
	writeFile(t, filepath.Join(root, "zebra", "b.png"), encode(t, solid(40, 20, red), "png"))
	// Alpha is dropped, not premultiplied (PIL's convert("RGB")).
	writeFile(t, filepath.Join(root, "zebra", "a.PNG"), encode(t, solid(8, 8, color.NRGBA{100, 150, 250, 64}), "png"))
	writeFile(t, filepath.Join(root, "zebra", "notes.txt"), []byte("ignored"))
	gray := image.NewGray(image.Rect(0, 0, 5, 5))
	for i := range gray.Pix {
		gray.Pix[i] = 77
	}
	writeFile(t, filepath.Join(root, "apple", "deep", "g.png"), encode(t, gray, "png"))
	writeFile(t, filepath.Join(root, "apple", "j.jpg"), encode(t, solid(16, 16, color.NRGBA{128, 128, 128, 255}), "jpg"))
	writeFile(t, filepath.Join(root, "apple", "p.gif"), encode(t, solid(6, 6, color.NRGBA{0, 0, 255, 255}), "gif"))
	s, err := LoadFolder(root, 8)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5 || s.Classes() != 2 || s.Names[0] != "apple" || s.Names[1] != "zebra" || s.H != 8 || s.C != 3 {
		t.Fatalf("%d images, classes %v, %dx%dx%d", s.Len(), s.Names, s.C, s.H, s.W)
	}
	// Files in sorted path order: apple/deep/g.png, apple/j.jpg, apple/p.gif, zebra/a.PNG, zebra/b.png.
	wantLabels := []int32{0, 0, 0, 1, 1}
	for i, l := range wantLabels {
		if s.Labels[i] != l {
			t.Fatalf("labels %v, want %v", s.Labels, wantLabels)
		}
	}
	cases := []struct {
		name string
		i    int
		want [3]uint8
		tol  int
	}{
		{"gray png", 0, [3]uint8{77, 77, 77}, 0},
		{"jpeg", 1, [3]uint8{128, 128, 128}, 2},
		{"gif", 2, [3]uint8{0, 0, 255}, 0},
		{"alpha dropped", 3, [3]uint8{100, 150, 250}, 0},
		{"resized solid", 4, [3]uint8{200, 10, 30}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, xy := range [][2]int{{0, 0}, {7, 7}, {3, 5}} {
				got := pixel(s, tc.i, xy[0], xy[1])
				for c := range 3 {
					if d := int(got[c]) - int(tc.want[c]); d > tc.tol || d < -tc.tol {
						t.Fatalf("pixel %v = %v, want %v", xy, got, tc.want)
					}
				}
			}
		})
	}
}

// TestFolderResize checks the antialiased resize on a two-color image:
// a left half red, right half blue, 64 wide, shrunk to 8: columns 0-2
// stay pure red, 5-7 pure blue, and the middle blends.
func TestFolderResize(t *testing.T) {
	m := solid(64, 64, color.NRGBA{255, 0, 0, 255})
	for y := range 64 {
		for x := 32; x < 64; x++ {
			m.SetNRGBA(x, y, color.NRGBA{0, 0, 255, 255})
		}
	}
	dst := make([]uint8, 3*8*8)
	if err := DecodeImageFile(dst, encode(t, m, "png"), 8, nil); err != nil {
		t.Fatal(err)
	}
	s := &U8Set{C: 3, H: 8, W: 8, Pix: dst, Labels: []int32{0}, NumClasses: 1}
	for x, want := range [][3]uint8{{255, 0, 0}, {255, 0, 0}, {255, 0, 0}, {223, 0, 32}, {32, 0, 223}, {0, 0, 255}, {0, 0, 255}, {0, 0, 255}} {
		if got := pixel(s, 0, x, 4); got != want {
			t.Errorf("column %d: %v, want %v", x, got, want)
		}
	}
}

func TestFolderErrors(t *testing.T) {
	cases := []struct {
		name      string
		files     map[string][]byte
		kind      error
		fragments []string
	}{
		{"no classes", map[string][]byte{"x.png": {1}}, fs.ErrNotExist, []string{"no class subfolders"}},
		{"empty class", map[string][]byte{"a/x.png": encode(t, solid(2, 2, color.NRGBA{A: 255}), "png"), "b/readme": {1}}, fs.ErrNotExist, []string{`class "b"`}},
		{"corrupt", map[string][]byte{"a/ok.png": encode(t, solid(2, 2, color.NRGBA{A: 255}), "png"), "a/z.png": []byte("not a png")}, ErrCorrupt, []string{"z.png"}},
		{"truncated png", map[string][]byte{"a/t.png": encode(t, solid(30, 30, color.NRGBA{1, 2, 3, 255}), "png")[:60]}, ErrCorrupt, []string{"t.png"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for p, d := range tc.files {
				writeFile(t, filepath.Join(root, p), d)
			}
			_, err := LoadFolder(root, 4)
			wantErr(t, err, tc.kind, tc.fragments...)
		})
	}
	if _, err := LoadFolder(filepath.Join(t.TempDir(), "missing"), 4); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	// A header that declares a gigantic image is refused before decoding.
	huge := encode(t, solid(1, 1, color.NRGBA{A: 255}), "png")
	binary.BigEndian.PutUint32(huge[16:], 1<<20) // IHDR width
	binary.BigEndian.PutUint32(huge[20:], 1<<20) // IHDR height
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	err := DecodeImageFile(make([]uint8, 12), huge, 2, nil)
	wantErr(t, err, ErrOversized, "1048576x1048576")
}
