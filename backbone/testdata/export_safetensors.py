"""Write a torchvision model's state_dict as .safetensors (no safetensors
package needed), with weights by the golden value rule or left as torchvision
initialized them.

usage (from this folder): /usr/bin/python3 export_safetensors.py MODEL OUT.safetensors [rule|torch] [GAIN] [SEED]

MODEL is a torchvision.models constructor (resnet18, efficientnet_b0, ...).
"rule" (the default) fills the weights by detweights.py's value rule with
the given gain (default 1); "torch" keeps torchvision's own random
initialization after torch.manual_seed(SEED) (default 0). The file loads
into the disiam backbone of the same name (safetensors.LoadModule). Its
write_safetensors(path, tensors) writes any dict of torch tensors;
safetensors/testdata/gen_torch_fixture.py uses it.
"""
import json
import struct
import sys

import numpy as np
import torch
import torchvision

from detweights import fill_state_dict


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy()
        dtype = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    name, out = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "rule"
    gain = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    torch.manual_seed(int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    model = getattr(torchvision.models, name)()
    if mode == "rule":
        fill_state_dict(model, gain)
    write_safetensors(out, model.state_dict())
    print(out, sum(p.numel() for p in model.parameters()), "parameters")
