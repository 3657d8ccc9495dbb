"""Writes torch_small.safetensors and torch_small.json: a tiny PyTorch model's
state_dict (conv, BatchNorm after one training step, linear, a float64
buffer) written by the writer of ../../backbone/testdata/export_safetensors.py,
and the expected values as JSON for the Go test.

usage (from this folder): /usr/bin/python3 gen_torch_fixture.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "backbone", "testdata"))
from export_safetensors import write_safetensors  # noqa: E402

torch.manual_seed(7)
model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 4, 3, bias=True),
    torch.nn.BatchNorm2d(4),
    torch.nn.Flatten(),
    torch.nn.Linear(4 * 2 * 2, 2),
)
model.train()
model(torch.randn(5, 3, 4, 4))  # one step of running statistics: num_batches_tracked = 1
sd = dict(model.state_dict())
sd["extra.double"] = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3)
write_safetensors("torch_small.safetensors", sd)
json.dump({k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
               "values": v.flatten().tolist()} for k, v in sd.items()},
          open("torch_small.json", "w"), indent=None)
print({k: (str(v.dtype), tuple(v.shape)) for k, v in sd.items()})
