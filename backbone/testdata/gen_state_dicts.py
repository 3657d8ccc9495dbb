"""Lists each torchvision architecture's state_dict for the Go tests:
state_dict/<name>.txt holds a header with the architecture's settings and
one line per tensor, "key dtype mean std shape...", where mean and std are
those of torchvision's own random initialization (torch.manual_seed(0)).

usage: /usr/bin/python3 gen_state_dicts.py   (torch 1.13, torchvision 0.14)
"""
import torch
import torchvision

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"] + ["efficientnet_b%d" % i for i in range(8)]

for name in NAMES:
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)()
    bns = sorted({(x.eps, x.momentum) for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)})
    drop = [x.p for x in m.modules() if isinstance(x, torch.nn.Dropout)]
    sd_probs = [x.p for x in m.modules() if type(x).__name__ == "StochasticDepth"]
    with open("state_dict/%s.txt" % name, "w") as f:
        f.write("# torchvision %s %s: key dtype mean std shape...\n" % (torchvision.__version__, name))
        f.write("params %d\n" % sum(p.numel() for p in m.parameters()))
        f.write("batchnorm %s\n" % " ".join("%g,%g" % b for b in bns))
        f.write("dropout %s\n" % " ".join(repr(p) for p in drop))
        f.write("stochastic_depth %s\n" % " ".join(repr(p) for p in sd_probs))
        for k, v in m.state_dict().items():
            d = v.double()
            mean = d.mean().item() if v.numel() else 0.0
            std = d.std(unbiased=False).item() if v.numel() else 0.0
            f.write("%s %s %.6g %.6g %s\n" % (k, str(v.dtype).replace("torch.", ""), mean, std,
                                             " ".join(str(s) for s in v.shape)))
    print(name, len(m.state_dict()), bns, drop, len(sd_probs))
