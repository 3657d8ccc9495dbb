# Parameter counts, feature widths and map channels of non-default widths,
# the numbers of backbone/width_test.go. Run: /usr/bin/python3 backbone/testdata/widths.py
import torch, torch.nn as nn
from torchvision.models import resnet as R
from torchvision.models import efficientnet as E
from functools import partial

class WResNet(R.ResNet):
    def __init__(self, block, layers, width, num_classes=1000, cifar=False):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        if cifar:  # the CIFAR stem of lightly's and solo-learn's CIFAR-10 benchmarks
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2*width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4*width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8*width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8*width * block.expansion, num_classes)

def count(m): return sum(p.numel() for p in m.parameters())
cfgs={18:(R.BasicBlock,[2,2,2,2]),34:(R.BasicBlock,[3,4,6,3]),50:(R.Bottleneck,[3,4,6,3])}
# sanity: width 64 equals torchvision
assert count(WResNet(*cfgs[18],64)) == count(R.resnet18())
assert count(WResNet(*cfgs[50],64)) == count(R.resnet50())
for d,w,c in [(18,16,1000),(18,16,10),(18,8,10),(34,16,10),(50,16,10),(18,32,10),(18,128,10)]:
    m=WResNet(*cfgs[d],w,num_classes=c)
    x=torch.zeros(2,3,32,32)
    print("resnet",d,w,c,count(m), m.fc.in_features)
for v,(wm,dm,drop) in {0:(1.0,1.0,0.2),1:(1.0,1.1,0.2),3:(1.2,1.4,0.3)}.items():
    for mult in [0.25,0.5,0.75,2]:
        setting,last=E._efficientnet_conf("efficientnet_b%d"%v, width_mult=wm*mult, depth_mult=dm)
        m=E.EfficientNet(setting, drop, num_classes=10)
        feats=m.classifier[1].in_features
        chans=[setting[i].out_channels for i in (2,4,6)]
        print("effnet",v,mult,count(m),feats,chans, m.features[0][0].out_channels)
# The CIFAR stem (backbone/stem_test.go): parameter counts and the shapes of
# layer2..layer4's outputs at 32x32 and 28x28.
for d,w,c in [(18,64,1000),(18,64,10),(18,16,10),(34,16,10),(50,16,10)]:
    m=WResNet(*cfgs[d],w,num_classes=c,cifar=True)
    shapes=[]
    for s in (32,28):
        x=torch.zeros(2,3,s,s)
        h=m.maxpool(m.relu(m.bn1(m.conv1(x))))
        h=m.layer1(h); outs=[]
        for l in (m.layer2,m.layer3,m.layer4):
            h=l(h); outs.append(tuple(h.shape[1:]))
        shapes.append(outs)
    print("resnet-cifar",d,w,c,count(m),tuple(m.conv1.weight.shape),shapes)
