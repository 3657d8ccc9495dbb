#!/usr/bin/python3
"""Reference linear probes for probe's tests (PyTorch, float64).

Features are drawn from a seeded Gaussian mixture (float32, as extracted by
a backbone), normalized as the Go package does, and an L2-regularized
multinomial logistic regression (mean cross-entropy + lambda/2 ||W||^2,
biases not penalized) is minimized to its optimum with full-batch L-BFGS
(strong Wolfe line search). Run: /usr/bin/python3 gen_reference.py > reference.json
"""
import json

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def features(rng, n, dim, classes, centers):
    y = rng.integers(0, classes, size=n)
    x = centers[y] + rng.normal(size=(n, dim)) * 1.5
    x[:, 0] *= 10.0  # a badly scaled feature
    x[:, 1] += 3.0
    return x.astype(np.float32), y


def normalize(kind, train, x):
    x = x.astype(np.float64)
    if kind == "standardize":
        t = train.astype(np.float64)
        mean = t.mean(0)
        sd = t.std(0)
        sd[sd == 0] = 1
        return (x - mean) / sd
    if kind == "l2":
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def case(name, kind, lam, seed, n, nt, dim, classes):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim))
    xtr, ytr = features(rng, n, dim, classes, centers)
    xte, yte = features(rng, nt, dim, classes, centers)
    X = torch.tensor(normalize(kind, xtr, xtr))
    Y = torch.tensor(ytr)
    W = torch.zeros(classes, dim, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=10000, tolerance_grad=1e-13,
                            tolerance_change=1e-16, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(X @ W.T + b, Y) + 0.5 * lam * (W * W).sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    loss = closure()
    gmax = max(W.grad.abs().max().item(), b.grad.abs().max().item())
    Xt = torch.tensor(normalize(kind, xtr, xte))
    z = (Xt @ W.T + b).detach()
    pred = z.argmax(1).numpy()
    top5 = torch.topk(z, min(5, classes), dim=1).indices.numpy()
    per = [float((pred[yte == c] == c).mean()) if (yte == c).any() else 0.0 for c in range(classes)]
    return {
        "name": name, "normalize": kind, "lambda": lam, "dim": dim, "classes": classes,
        "train": xtr.ravel().tolist(), "train_labels": ytr.tolist(),
        "test": xte.ravel().tolist(), "test_labels": yte.tolist(),
        "W": W.detach().ravel().tolist(), "b": b.detach().tolist(),
        "loss": loss.item(), "grad_max": gmax,
        "top1": float((pred == yte).mean()),
        "top5": float(np.mean([yte[i] in top5[i] for i in range(nt)])),
        "per_class": per,
    }


cases = [
    case("standardize", "standardize", 1e-2, 1, 300, 200, 12, 7),
    case("l2 weak penalty", "l2", 1e-3, 2, 400, 150, 20, 6),
    case("raw", "none", 5e-2, 3, 200, 100, 8, 3),
]
print(json.dumps({"torch": torch.__version__, "cases": cases}))
