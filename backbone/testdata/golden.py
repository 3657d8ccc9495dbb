"""Golden reference values from PyTorch/torchvision (Debian's python3-torch
1.13, python3-torchvision 0.14), computed in float64.

usage (from this folder): /usr/bin/python3 golden.py OUTDIR models|losses|knn|augment|step [names...]

Everything is built from detweights.py, so the Go side can regenerate the
same weights and inputs without any weight file. It wrote these files of
the repository's testdata:

  models resnet18 efficientnet_b0 -> backbone/testdata/resnet18_32.json,
                                     efficientnet_b0_32.json: the model with its
      1000-class head, weights by the rule (gain 1 for ResNet, 2 for
      EfficientNet), input "input" of shape 4x3x32x32; eval_features (pooled,
      before the classifier), eval_logits, train_bn_features (BatchNorm on batch
      statistics, dropout and stochastic depth off), the parameter count, and
      torch_float32_max_rel_err, how far PyTorch's own float32 run is from the
      float64 numbers. (A model spec NAME@SIZE sets the input size.)
  augment -> augment/testdata/augment.json.gz (gzipped): torchvision's
      functional ops on the image "img" (3x40x48, values (r + 1) / 2).
  losses  -> ssl/testdata/losses.json: NT-Xent, the SimSiam symmetric loss,
      the multi-view pairwise loss and the DiSiam loss, values and gradients.
  knn     -> knn/testdata/knn.json: the weighted kNN rule's scores and top-5.
  step    -> three SGD steps of a ResNet-18 with a stop-gradient cosine loss.

backbone/testdata/gen_golden.py and gen_grad_golden.py add cases with its
run_model.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as Fn
import torchvision
import torchvision.transforms.functional as TF

from detweights import fill_state_dict, tensor_input, uniform_r, splitmix64, fnv1a64

torch.set_num_threads(2)


def tolist(t):
    return np.asarray(t.detach().cpu().double().numpy()).round(8).tolist()


def features_of(model, x):
    name = type(model).__name__
    if name == "ResNet":
        m = model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        x = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return torch.flatten(m.avgpool(x), 1)
    if name == "EfficientNet":
        return torch.flatten(model.avgpool(model.features(x)), 1)
    raise ValueError(name)


def bn_train_only(model):
    model.eval()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.train()


def gain_for(name):
    # EfficientNet's eval-mode signal vanishes at gain 1 (outputs stop
    # depending on the input), ResNet's explodes at gain 2.
    return 2.0 if name.startswith("efficientnet") else 1.0


def run_model(name, shape):
    gain = gain_for(name)
    out = {}
    for dtype in (torch.float64, torch.float32):
        model = getattr(torchvision.models, name)()
        fill_state_dict(model, gain)
        model = model.to(dtype)
        x = tensor_input("input", shape).to(dtype)
        with torch.no_grad():
            model.eval()
            f_eval = features_of(model, x)
            logits = model(x)
            bn_train_only(model)
            f_train = features_of(model, x)
        out[dtype] = (f_eval, logits, f_train)
    def rel(a, b):
        return float((a.double() - b.double()).abs().max() / b.double().abs().max())
    f64, f32 = out[torch.float64], out[torch.float32]
    return {
        "model": name,
        "params": sum(p.numel() for p in getattr(torchvision.models, name)().parameters()),
        "input": {"name": "input", "shape": list(shape)},
        "weight_gain": gain,
        "eval_features": tolist(f64[0]),
        "eval_logits": tolist(f64[1]),
        "train_bn_features": tolist(f64[2]),
        "torch_float32_max_rel_err": {
            "eval_features": rel(f32[0], f64[0]),
            "eval_logits": rel(f32[1], f64[1]),
            "train_bn_features": rel(f32[2], f64[2]),
        },
    }


def neg_cos(p, z):
    return -(Fn.normalize(p, dim=1) * Fn.normalize(z.detach(), dim=1)).sum(1).mean()


def losses():
    res = {}
    N, D = 8, 16
    z1 = tensor_input("z1", (N, D)).double().requires_grad_()
    z2 = tensor_input("z2", (N, D)).double().requires_grad_()
    for tau in (0.1, 0.5):
        z = torch.cat([z1, z2], 0)
        zn = Fn.normalize(z, dim=1)
        s = zn @ zn.t() / tau
        s = s.masked_fill(torch.eye(2 * N, dtype=torch.bool), float("-inf"))
        target = torch.cat([torch.arange(N, 2 * N), torch.arange(0, N)])
        loss = Fn.cross_entropy(s, target)  # mean over the 2N anchors
        g1, g2 = torch.autograd.grad(loss, [z1, z2])
        res["nt_xent_tau_%g" % tau] = {
            "inputs": ["z1", "z2"], "shape": [N, D], "tau": tau,
            "loss": loss.item(), "grad_z1": tolist(g1), "grad_z2": tolist(g2),
        }
    # SimSiam symmetric negative cosine, normalized convention (range [-1, 1])
    p1 = tensor_input("p1", (N, D)).double().requires_grad_()
    p2 = tensor_input("p2", (N, D)).double().requires_grad_()
    loss = 0.5 * neg_cos(p1, z2) + 0.5 * neg_cos(p2, z1)
    g = torch.autograd.grad(loss, [p1, p2, z1, z2], allow_unused=True)
    res["simsiam_symmetric"] = {
        "inputs": ["p1", "p2", "z1", "z2"], "shape": [N, D],
        "formula": "0.5*D(p1, sg(z2)) + 0.5*D(p2, sg(z1)), D = -mean cos",
        "loss": loss.item(), "grad_p1": tolist(g[0]), "grad_p2": tolist(g[1]),
        "grad_z1": "zero (stop-gradient)", "grad_z2": "zero (stop-gradient)",
    }
    # FastSiam / DiSiam+ multi-view pairwise (thesis Algorithm 4 line 9), M = 4
    M = 4
    ps = [tensor_input("mv_p%d" % j, (N, D)).double().requires_grad_() for j in range(M)]
    zs = [tensor_input("mv_z%d" % j, (N, D)).double() for j in range(M)]
    terms = [neg_cos(ps[j], zs[k]) for j in range(M) for k in range(M) if j != k]
    loss = sum(terms) / (M * (M - 1))
    g = torch.autograd.grad(loss, ps)
    res["multiview_pairwise_M4"] = {
        "inputs": ["mv_p0..3", "mv_z0..3"], "shape": [N, D],
        "formula": "1/(M(M-1)) * sum_{j!=k} D(p_j, sg(z_k))",
        "loss": loss.item(), "grad_p0": tolist(g[0]),
    }
    # DiSiam: average of online and assistant symmetric losses against the
    # shared (stop-gradient) assistant projections.
    po1 = tensor_input("po1", (N, D)).double().requires_grad_()
    po2 = tensor_input("po2", (N, D)).double().requires_grad_()
    pa1 = tensor_input("pa1", (N, D)).double().requires_grad_()
    pa2 = tensor_input("pa2", (N, D)).double().requires_grad_()
    za1 = tensor_input("za1", (N, D)).double()
    za2 = tensor_input("za2", (N, D)).double()
    d_on = 0.5 * neg_cos(po1, za2) + 0.5 * neg_cos(po2, za1)
    d_as = 0.5 * neg_cos(pa1, za2) + 0.5 * neg_cos(pa2, za1)
    loss = 0.5 * (d_on + d_as)
    g = torch.autograd.grad(loss, [po1, pa1])
    res["disiam"] = {
        "inputs": ["po1", "po2", "pa1", "pa2", "za1", "za2"], "shape": [N, D],
        "formula": "0.5*(D_online + D_assistant), each 0.5*D(p1, sg(za2)) + 0.5*D(p2, sg(za1))",
        "loss": loss.item(), "grad_po1": tolist(g[0]), "grad_pa1": tolist(g[1]),
    }
    return res


def labels(name, n, classes):
    seed = np.uint64(fnv1a64(name))
    with np.errstate(over="ignore"):
        idx = np.arange(n, dtype=np.uint64) + seed
    return (splitmix64(idx) % np.uint64(classes)).astype(np.int64)


def knn():
    ntr, nte, d, C, k, tau = 500, 50, 32, 10, 20, 0.1
    ftr = Fn.normalize(tensor_input("knn_train", (ntr, d)).double(), dim=1)
    fte = Fn.normalize(tensor_input("knn_test", (nte, d)).double(), dim=1)
    ytr = torch.from_numpy(labels("knn_train_labels", ntr, C))
    sim = fte @ ftr.t()
    w, idx = sim.topk(k, dim=1)
    w = (w / tau).exp()
    onehot = torch.zeros(nte, k, C, dtype=torch.float64).scatter_(2, ytr[idx].unsqueeze(-1), 1.0)
    scores = (onehot * w.unsqueeze(-1)).sum(1)
    order = scores.argsort(dim=1, descending=True)
    return {
        "train": {"name": "knn_train", "shape": [ntr, d]},
        "test": {"name": "knn_test", "shape": [nte, d]},
        "train_labels": "labels_i = splitmix64(fnv1a64('knn_train_labels') + i) % 10",
        "k": k, "tau": tau, "classes": C,
        "features_l2_normalized_first": True,
        "scores": tolist(scores), "top5": order[:, :5].tolist(),
        "train_labels_first20": ytr[:20].tolist(),
    }


def augment():
    img = (tensor_input("img", (3, 40, 48)).double() + 1) / 2  # in [0, 1)
    out = {"image": {"name": "img", "shape": [3, 40, 48], "map": "(r + 1) / 2"}}
    ops = {
        "resized_crop_up_t5_l7_h20_w24_to32": TF.resized_crop(img, 5, 7, 20, 24, [32, 32], antialias=False),
        "resized_crop_down_t2_l3_h36_w40_to16_noantialias": TF.resized_crop(img, 2, 3, 36, 40, [16, 16], antialias=False),
        "hflip": TF.hflip(img),
        "brightness_1.3": TF.adjust_brightness(img, 1.3),
        "contrast_0.7": TF.adjust_contrast(img, 0.7),
        "saturation_1.4": TF.adjust_saturation(img, 1.4),
        "hue_0.1": TF.adjust_hue(img, 0.1),
        "hue_-0.3": TF.adjust_hue(img, -0.3),
        "grayscale_3ch": TF.rgb_to_grayscale(img, 3),
        "gaussian_blur_k5_s1.2": TF.gaussian_blur(img, [5, 5], [1.2, 1.2]),
        "normalize_cifar": TF.normalize(img, [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
    }
    out["ops"] = {k: tolist(v) for k, v in ops.items()}
    out["notes"] = ("torchvision 0.14 functional ops on float tensors in [0,1]; "
                    "resized_crop is bilinear, align_corners=False; gaussian_blur pads by reflection; "
                    "brightness/contrast/saturation results are clamped to [0,1]")
    return out


def step():
    """Two SGD steps of a ResNet-18 backbone with a symmetric stop-grad cosine loss."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    fill_state_dict(model)
    model = model.double()
    bn_train_only(model)
    x1 = tensor_input("input", (4, 3, 32, 32)).double()
    x2 = tensor_input("input2", (4, 3, 32, 32)).double()
    params = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)
    rec = {"losses": []}
    for it in range(3):
        f1, f2 = features_of(model, x1), features_of(model, x2)
        loss = 0.5 * neg_cos(f1, f2) + 0.5 * neg_cos(f2, f1)
        rec["losses"].append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    sd = model.state_dict()
    probe = ["conv1.weight", "bn1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
             "layer4.1.bn2.bias", "layer4.1.conv2.weight", "layer3.0.downsample.0.weight"]
    rec["after_3_steps"] = {k: {"sum": sd[k].double().sum().item(),
                                "abs_sum": sd[k].double().abs().sum().item(),
                                "first8": tolist(sd[k].flatten()[:8])} for k in probe}
    rec["setup"] = ("resnet18 detweights; float64; BN in train mode (batch stats, momentum 0.1), "
                    "no dropout; features = pooled 512-d; loss = 0.5*D(f1,sg f2)+0.5*D(f2,sg f1); "
                    "SGD lr 0.05 momentum 0.9 weight_decay 1e-4 (PyTorch semantics) on all params but fc; "
                    "losses recorded before each of 3 steps, state after the 3rd step")
    return rec


def main():
    outdir, what = sys.argv[1], sys.argv[2]
    names = sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    if what == "models":
        for spec in names:
            name, _, size = spec.partition("@")
            size = int(size or 32)
            res = run_model(name, (4, 3, size, size))
            fn = os.path.join(outdir, "%s_%d.json" % (name, size))
            json.dump(res, open(fn, "w"))
            print(fn, res["torch_float32_max_rel_err"],
                  "max|f|", float(np.abs(np.array(res["eval_features"])).max()),
                  "max|logit|", float(np.abs(np.array(res["eval_logits"])).max()))
    else:
        res = {"losses": losses, "knn": knn, "augment": augment, "step": step}[what]()
        fn = os.path.join(outdir, what + ".json")
        json.dump(res, open(fn, "w"), indent=None)
        print(fn)


if __name__ == "__main__":
    main()
