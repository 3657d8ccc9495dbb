// Package detect carries self-supervised backbones into object detection:
// 2D detection with FCOS (torchvision's) and monocular 3D detection with
// FCOS3D (mmdetection3d's), on any backbone that offers a feature pyramid,
// with the data formats and metrics (COCO mAP, the nuScenes detection
// score) needed to fine-tune and measure them.
//
// # FCOS
//
// FCOS is torchvision 0.14's FCOS (models/detection/fcos.py), number for
// number: the backbone's maps C3..C5 (FeatureMaps) go through a
// FeaturePyramidNetwork with LastLevelP6P7 (FPN) to P3..P7, and a head
// shared by the levels (Head: GroupNorm towers, class logits, box distances
// after a ReLU, centre-ness; no per-level scale) predicts for every
// position. Any backbone with FeatureMaps and MapChannels works, every
// ResNet and EfficientNet of package backbone among them, at any input
// size:
//
//	b := backbone.NewResNet(50, backbone.Config{})   // or load ImageNet/SSL weights into it first
//	m, err := detect.NewFCOS(b, detect.Config{Classes: 91, FrozenBN: true, FrozenStages: 2})
//
// Parameters carry torchvision's FCOS state_dict names (backbone.body.*,
// backbone.fpn.*, head.*), so torchvision checkpoints load with
// safetensors.LoadModule and files saved with safetensors.SaveModule load
// into torchvision with strict=True. FrozenBN and FrozenStages reproduce
// what torchvision does with a pretrained backbone (FrozenBatchNorm2d,
// trainable_backbone_layers 3).
//
// Anchors are torchvision's: one per position, of size 8·2^l, centred on
// (j·stride, i·stride) with stride = image size // map size (integer
// division: a 100×100 input has strides 7, 14, 25, 50, 100). Images are
// resized, normalized and padded outside the model.
//
// # Training
//
// TrainingGraph builds, on an images node, the detector and its three
// losses (classification: sigmoid focal loss, α 0.25, γ 2; bbox_regression:
// GIoU loss of the decoded boxes; bbox_ctrness: BCE with logits against
// the centre-ness target), each summed and divided by max(1, number of
// foreground anchors in the batch), and their unweighted sum. The losses
// are fused kernels that skip background anchors, so no 0/0 of a
// background target can reach a sum or a gradient as NaN·0. Per step, copy
// the batch into the images tensor and call SetTargets with the
// annotations: the assignment (an Assigner; FCOS's CenterSampling by
// default) and the targets are plain Go. An image without objects is all
// background; crowd objects are ignored; a degenerate box or an unknown
// class is an error naming the image and the object.
//
//	g := G.NewGraph()
//	x, xt := nn.Input(g, "images", tensor.Float32, n, 3, h, w)
//	tg, err := m.TrainingGraph(x)
//	prog, err := nn.Compile(g, tg.Loss, nn.Trainable(m))
//	for each batch {
//		copy(xt.Data().([]float32), images)
//		err = tg.SetTargets(objects)
//		err = prog.Run()
//		opt.Step(lr)
//	}
//
// torchvision's recipe is SGD (lr 0.01 at batch 16, momentum 0.9, weight
// decay 1e-4) with a linear warm-up over 1000 iterations, 26 epochs with
// steps at 16 and 22, and horizontal flips.
//
// # Fine-tuning with the shared loop
//
// Fine-tuning runs through package train, the loop SSL pretraining uses
// (checkpoints, exact resumption, metrics, progress, a non-finite loss
// stopping with an error):
//
//   - a Loader is the train.Data: a Dataset's images in a seeded shuffled
//     order, each transformed as torchvision's pipeline does (Transform:
//     horizontal flip 0.5, GeneralizedRCNNTransform's min_size/max_size
//     resize, ImageNet normalization, zero padding into the batch tensor;
//     optional scale jitter with random crops), the boxes moved with the
//     pixels and dropped when nothing of them remains. Every annotation is
//     checked when the Loader is made: a degenerate box or an unknown
//     class is an error naming the image and the object. Images are
//     prepared in parallel with randomness drawn from (seed, epoch,
//     image), so batches never depend on the number of goroutines.
//   - an Objective is the train.Objective: TrainingGraph on the images,
//     SetTargets per micro-batch, the three losses observed per epoch.
//   - Recipe is torchvision's detection recipe as a train.Recipe: SGD,
//     optim.LinearWarmup (factor 1e-3) over optim.MultiStep (×0.1 at
//     16/26 and 22/26 of the epochs), optional gradient-norm clipping.
//   - coco.Evaluator (package detect/coco) is the train.Evaluator: COCO
//     mAP and mAP@0.5 (pycocotools' rules) on a validation Loader, with
//     the detections mapped back to the images' own pixels.
//
// Assembled:
//
//	loader, _ := detect.NewLoader(trainSet, detect.LoaderConfig{Batch: 16,
//		Transform: detect.Transform{MinSize: 800, MaxSize: 1333, HFlip: 0.5}, Shuffle: true, DropLast: true, Seed: 1})
//	val, _ := detect.NewLoader(valSet, detect.LoaderConfig{Batch: 16, Transform: detect.Transform{MinSize: 800, MaxSize: 1333}})
//	recipe, _ := detect.Recipe(detect.RecipeConfig{Batch: 16, Epochs: 26, StepsPerEpoch: loader.StepsPerEpoch()})
//	loop := &train.Loop{Stages: []train.Stage{{Name: "fcos", Parts: train.Parts{{Module: m, Trainable: true}},
//		Objective: detect.NewObjective(m, loader), Data: loader, Epochs: 26, Recipe: recipe,
//		Evaluator: &coco.Evaluator{Model: m, Loader: val}}},
//		Config: train.Config{Batch: 16, EvalEvery: 1, Log: os.Stdout}}
//	history, err := loop.Run(ctx)
//
// examples/detect runs this on the synthetic shapes or a COCO-format set,
// from a random and a pretrained backbone.
//
// # Inference
//
// A Predictor runs the detector in Eval mode and Config.Postprocess turns
// the head outputs into detections as torchvision's
// postprocess_detections does: score sqrt(σ(cls)·σ(ctr)) > 0.2, the top
// 1000 per level, decoded and clipped boxes, class-wise NMS at IoU 0.6,
// the best 100 per image by descending score. NMS, BatchedNMS, BoxIoU,
// GIoU and the box coder are plain Go with torchvision.ops' semantics.
//
// # FCOS3D
//
// FCOS3D is mmdetection3d's monocular 3D detector (fcos_mono3d_head.py
// with configs/_base_/models/fcos3d.py) on the same pyramid: NewFCOS3D
// builds backbone → FPN (P3..P7, strides 8..128) → Head3D, with
// mmdetection's state_dict names (backbone.*, neck.lateral_convs.*,
// neck.fpn_convs.*, bbox_head.*). The head has two GroupNorm
// ConvModules per tower, a ConvModule and a 1×1 predictor per branch
// (class logits, offset of the projected centre, depth, size, local yaw,
// velocity, direction bin, attribute; centre-ness through a 64-wide
// ConvModule) and a learnable Scale per level for offset, depth and size.
// Upstream's last tower layers are modulated deformable convolutions
// (dcn_on_last_conv); here they are plain 3×3 convolutions, the one
// architectural departure.
//
//	b := backbone.NewResNet(18, backbone.Config{Width: 16})  // load SSL weights into b first
//	m, err := detect.NewFCOS3D(b, detect.Config3D{Channels: 64})
//
// Points sit at the cell centres (j·s + s/2, i·s + s/2). A point learns
// an object when it lies strictly within 1.5 strides of the object's
// projected 3D centre (not its 2D box) and the largest distance to the
// sides of the 2D box lies in the level's inclusive regress range; the
// nearest projected centre wins ties (Assign3D). Targets
// (EncodeTarget3D): offset (point − centre)/stride, the depth of the
// projection (Camera.Project; KITTI's P2 adds its P[2][3]), size (l, h,
// w), local yaw yaw − atan2(x, z), velocity, direction bin and
// centre-ness exp(−2.5·distance/(1.414·1.5·stride)). The losses
// (TrainingGraph) are mmdetection3d's nine: focal loss; smooth L1 (β 1/9)
// with the code weights on the exp-decoded depth and size in metres, the
// offsets, sin(p − t) of the yaw and the velocity; cross-entropy of the
// direction bin and of the attribute (weighted by the centre-ness
// target); BCE of the centre-ness; each as a fused kernel that skips
// background points, with mmdetection 3.x's normalizers (avg_factor + ε).
// Images without objects give finite losses. testdata/gen_fcos3d.py, a
// PyTorch transcription of loss_by_feat, pins assignment, losses and
// gradients.
//
// Decoding (Postprocess3D, DecodeRegression3D) is the test-time path:
// the best 1000 points per level by σ(cls)·σ(centre-ness), centre =
// Unproject(point − offset·stride, depth), yaw from the direction bin and
// the ray angle, scores σ(cls)·σ(centre-ness) above 0.05, rotated
// bird's-eye-view NMS at IoU 0.8 per class, 200 boxes per image. Three
// small departures, each documented where it lives: the ray angle is
// atan2(x, z) of the decoded centre, the exact inverse of the target for
// any P (mmdetection3d's atan2(u − cx, fx) is the same for K|0 but not
// for KITTI's P2); the assignment arithmetic is float64 (float32
// upstream); and the direction offset is π/4 (the config's 0.7854).
// Config3D.InitDepth and InitSize optionally start the depth and size
// biases at typical values, which short trainings need.
//
// Training runs through package train: Data3D (shuffled, augmented
// batches; Transform3D zooms, crops and flips image, camera and boxes
// together, so K and the projected centres stay exact), Objective3D and
// nuscenes.Evaluator (mAP and NDS of a validation set). Predict3D runs a
// detector over a dataset. examples/detect3d fine-tunes FCOS3D on
// synth.SyntheticDriving from a random and from a pretrained backbone.
//
// # Reference values
//
// The tests compare with torchvision 0.14 run on weights and inputs set by
// a deterministic rule (testdata/golden_detect.py regenerates them): the
// pyramid and head outputs of a ResNet-18 body at 128×128 and 100×100 and
// of an EfficientNet-B0 body, the anchors, the matched indices on crafted
// boxes (the centre-sampling radius, box borders and scale-range bounds hit
// exactly, nested boxes, an image without boxes), the three losses, their
// gradients and the detections.
package detect
