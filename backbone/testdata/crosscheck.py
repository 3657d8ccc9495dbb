"""PyTorch side of backbone's TestPyTorchCrossCheck (run by the Go test).

usage: /usr/bin/python3 crosscheck.py DIR
DIR holds input.safetensors (tensor "x") and go_<arch>.safetensors files
written by Go. For each of those, the torchvision model (10 classes; for
an <arch>-cifar name with conv1 a 3x3 stride-1 convolution and no max-pool,
the CIFAR stem) loads
it with load_state_dict(strict=True) and prints its eval-mode logits for x.
Then it builds torchvision's efficientnet_b0 and resnet34 (10 classes) with
their own random initialization (torch.manual_seed(0)), runs one
train-mode forward on x (so running statistics and num_batches_tracked
change), writes them as torch_<arch>.safetensors and prints their
eval-mode logits. Output: one JSON object on stdout.
"""
import json
import struct
import sys
import os

import numpy as np
import torch
import torchvision

DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
RDT = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype=DT[v["dtype"]]).reshape(v["shape"]).copy())
    return out


def write(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        a = t.detach().contiguous().numpy()
        b = a.tobytes()
        header[k] = {"dtype": RDT[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    d = sys.argv[1]
    torch.set_num_threads(1)
    x = read(os.path.join(d, "input.safetensors"))["x"]
    res = {}
    for fn in sorted(os.listdir(d)):
        if fn.startswith("go_"):
            arch = fn[3:-len(".safetensors")]
            base, cifar = arch.removesuffix("-cifar"), arch.endswith("-cifar")
            m = getattr(torchvision.models, base)(num_classes=10)
            if cifar:  # the CIFAR stem: 3x3 stride-1 conv1, no max-pool
                m.conv1 = torch.nn.Conv2d(3, m.conv1.out_channels, 3, 1, 1, bias=False)
                m.maxpool = torch.nn.Identity()
            m.load_state_dict(read(os.path.join(d, fn)), strict=True)
            m.eval()
            with torch.no_grad():
                res[fn] = m(x).double().flatten().tolist()
    for arch in ("efficientnet_b0", "resnet34"):
        torch.manual_seed(0)
        m = getattr(torchvision.models, arch)(num_classes=10)
        m.train()
        with torch.no_grad():
            m(x)
        m.eval()
        with torch.no_grad():
            res["torch_%s.safetensors" % arch] = m(x).double().flatten().tolist()
        write(os.path.join(d, "torch_%s.safetensors" % arch), m.state_dict())
    print(json.dumps(res))


if __name__ == "__main__":
    main()
