package dataset

import (
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "c10")
	for b := 1; b <= 5; b++ {
		writeFile(t, filepath.Join(sub, "data_batch_"+string(rune('0'+b))+".bin"), cifarRecords(2, 1, func(i, _ int) byte { return byte(i) }))
	}
	writeFile(t, filepath.Join(sub, "test_batch.bin"), cifarRecords(3, 1, func(i, _ int) byte { return 1 }))
	mn := filepath.Join(dir, "mnist")
	writeFile(t, filepath.Join(mn, "t10k-images-idx3-ubyte"), idxBytes([]int{2, 28, 28}, seq(2*784)))
	writeFile(t, filepath.Join(mn, "t10k-labels-idx1-ubyte"), idxBytes([]int{2}, []byte{3, 5}))
	cases := []struct {
		spec    string
		split   Split
		n, c, h int
		classes int
	}{
		{"synthetic", Test, 1000, 3, 32, 10},
		{"synthetic,train=30,size=20,seed=4", Train, 30, 3, 20, 10},
		{"synthetic,train=50,limit=7", Train, 7, 3, 32, 10},
		{"cifar10:" + sub, Train, 10, 3, 32, 10},
		{"cifar10:" + sub + ",limit=2", Test, 2, 3, 32, 10},
		{"mnist:" + mn, Test, 2, 1, 28, 10},
		{"mnist:" + mn + ",rgb", Test, 2, 3, 28, 10},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			ds, err := Open(tc.spec, tc.split)
			if err != nil {
				t.Fatal(err)
			}
			img := ds.Image(0)
			if ds.Len() != tc.n || img.C != tc.c || img.H != tc.h || ds.Classes() != tc.classes {
				t.Errorf("%d images %dx%dx%d, %d classes", ds.Len(), img.C, img.H, img.W, ds.Classes())
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		spec string
		want string
	}{
		{"imagenet:/x", `unknown dataset "imagenet"`},
		{"synthetic,trian=5", `unknown option "trian"`},
		{"cifar10:/x,size=3", `unknown option "size"`},
		{"cifar10", "needs a directory"},
		{"cifar10:", "needs a directory"},
		{"synthetic:/tmp", "takes no directory"},
		{"synthetic,train=abc", "not a non-negative integer"},
		{"synthetic,train=-4", "not a non-negative integer"},
		{"synthetic,seed=1,seed=2", "given twice"},
		{"synthetic,rgb=yes", "takes no value"},
		{"synthetic,limit=", "empty value"},
		{"synthetic,,rgb", "empty option"},
		{"cifar10:/nonexistent", "no such file"},
		{"folder:/nonexistent", "not a directory"},
		{"mnist:/nonexistent", "no train-images-idx3-ubyte"},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Open(tc.spec, Train)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Open("synthetic", Split(5)); err == nil {
		t.Error("split 5 accepted")
	}
}

func TestOpenFolderSplits(t *testing.T) {
	root := t.TempDir()
	png := encode(t, solid(4, 4, color.NRGBA{1, 2, 3, 255}), "png")
	writeFile(t, filepath.Join(root, "train", "a", "1.png"), png)
	writeFile(t, filepath.Join(root, "train", "b", "1.png"), png)
	writeFile(t, filepath.Join(root, "val", "a", "1.png"), png)
	tr, err := Open("folder:"+root+",size=6", Train)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 2 || tr.Image(0).H != 6 {
		t.Errorf("train: %d images of %d", tr.Len(), tr.Image(0).H)
	}
	if te, err := Open("folder:"+root+",size=6", Test); err != nil || te.Len() != 1 {
		t.Errorf("val: %v", err)
	}
	flat := filepath.Join(root, "train")
	if _, err := Open("folder:"+flat, Test); err == nil || !strings.Contains(err.Error(), "no val/ or test/") {
		t.Errorf("flat folder test split: %v", err)
	}
	if ds, err := Open("folder:"+flat, Train); err != nil || ds.Len() != 2 || ds.Image(0).H != 224 {
		t.Errorf("flat folder train split: %v", err)
	}
}

func TestParseSplit(t *testing.T) {
	for s, want := range map[string]Split{"train": Train, "TEST": Test, "val": Test} {
		if got, err := ParseSplit(s); err != nil || got != want {
			t.Errorf("ParseSplit(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseSplit("dev"); err == nil {
		t.Error("dev accepted")
	}
	if Train.String() != "train" || Test.String() != "test" {
		t.Error("String")
	}
}
