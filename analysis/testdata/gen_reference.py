#!/usr/bin/python3
"""Reference values for analysis's tests (numpy and scipy).

kde: scipy.stats.gaussian_kde (Scott's rule) of seeded 2D point sets at
query points. trustworthiness: the formula of scikit-learn's
sklearn.manifold.trustworthiness (Venna & Kaski), written out in numpy
with full argsorts. Run: /usr/bin/python3 gen_reference.py > reference.json
"""
import json

import numpy as np
import scipy
from scipy.stats import gaussian_kde


def trustworthiness(X, Y, k):
    n = X.shape[0]
    dx = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dx, np.inf)
    ind_x = np.argsort(dx, axis=1, kind="stable")
    dy = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dy, np.inf)
    ind_y = np.argsort(dy, axis=1, kind="stable")[:, :k]
    inv = np.zeros((n, n), dtype=int)
    ordinal = np.arange(n + 1)
    inv[ordinal[:-1, None], ind_x] = ordinal[1:]
    ranks = inv[ordinal[:-1, None], ind_y] - k
    t = np.sum(ranks[ranks > 0])
    return 1.0 - t * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


rng = np.random.default_rng(5)
kdes = []
for name, pts in [
    ("isotropic 50", rng.normal(size=(50, 2))),
    ("correlated 200", rng.normal(size=(200, 2)) @ np.array([[2.0, 0.0], [1.5, 0.3]]) + [3, -1]),
    ("two blobs 120", np.vstack([rng.normal(size=(60, 2)) * 0.3, rng.normal(size=(60, 2)) * 0.5 + [4, 4]])),
]:
    kde = gaussian_kde(pts.T)
    q = rng.uniform(pts.min(0) - 1, pts.max(0) + 1, size=(25, 2))
    kdes.append({"name": name, "points": pts.ravel().tolist(), "queries": q.ravel().tolist(),
                 "density": kde(q.T).tolist(), "covariance": kde.covariance.ravel().tolist()})

trust = []
for name, n, dim, k in [("blobs 150x10", 150, 10, 5), ("noise 120x6", 120, 6, 10)]:
    centers = rng.normal(size=(4, dim)) * 3
    X = (centers[np.arange(n) % 4] + rng.normal(size=(n, dim))).astype(np.float32)
    Y = X[:, :2].astype(np.float64) + rng.normal(size=(n, 2)) * 0.5
    trust.append({"name": name, "dim": dim, "k": k, "x": X.ravel().tolist(), "y": Y.ravel().tolist(),
                  "trustworthiness": trustworthiness(X.astype(np.float64), Y, k)})

print(json.dumps({"scipy": scipy.__version__, "kde": kdes, "trustworthiness": trust}))
