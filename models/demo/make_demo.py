#!/usr/bin/python3
"""Train the two demo models shipped in models/ and export them to ONNX.

  regression: diabetes progression from 10 raw clinical features
              (Dense 128 ReLU, Dense 64 ReLU, Dense 1), sklearn's diabetes data
  digits:     8x8 handwritten digits, a small CNN with softmax output,
              sklearn's digits data

Both data sets ship with scikit-learn (no download). Input standardization is
folded into the first layer, so requests carry raw feature values (digits:
pixel intensities 0..16). Writes DIR/NAME.onnx, NAME.request.json (real test
rows) and NAME.expected.json (PyTorch's answer) and prints test metrics.

Run: OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 /usr/bin/python3 make_demo.py [DIR]
Then: modelctl convert DIR/regression.onnx models/regression.gguf --quant f32
      modelctl convert DIR/digits.onnx models/digits.gguf --quant f32
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_diabetes, load_digits
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

SEED = 1234
torch.set_num_threads(1)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def export(model, example, path, in_name, out_name):
    torch.onnx.export(model, (example,), path, input_names=[in_name], output_names=[out_name],
                      dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}},
                      opset_version=13, do_constant_folding=True)


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                 nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x)


def fold_affine(model, x_mean, x_std, y_mean, y_std):
    """Make the net take raw features and answer in raw target units:
    first layer W' = W / s, b' = b - W' m; last layer scaled by the target's
    std and shifted by its mean."""
    first, last = model.net[0], model.net[-1]
    with torch.no_grad():
        w = first.weight / torch.from_numpy(x_std)
        first.bias.copy_(first.bias - w @ torch.from_numpy(x_mean))
        first.weight.copy_(w)
        last.weight.mul_(y_std)
        last.bias.copy_(last.bias * y_std + y_mean)


def make_regression(outdir):
    x, y = load_diabetes(return_X_y=True, scaled=False)
    x, y = x.astype(np.float32), y.astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=SEED)
    xm, xs = xtr.mean(0), xtr.std(0)
    ym, ys = float(ytr.mean()), float(ytr.std())
    # Early stopping on a validation split of the training rows: this net
    # overfits 280 rows within a few hundred steps.
    xfit, xval, yfit, yval = train_test_split(xtr, ytr, test_size=0.2, random_state=SEED)
    torch.manual_seed(SEED)
    model = Regressor()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    xt = torch.from_numpy((xfit - xm) / xs)
    yt = torch.from_numpy((yfit - ym) / ys).unsqueeze(1)
    xv = torch.from_numpy((xval - xm) / xs)
    yv = torch.from_numpy((yval - ym) / ys).unsqueeze(1)
    best, best_state, best_epoch = float("inf"), None, 0
    for epoch in range(300):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            F.mse_loss(model(xt[idx]), yt[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = F.mse_loss(model(xv), yv).item()
        if val < best:
            best, best_epoch = val, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    print("regression: early stop at epoch %d (validation MSE %.3f, standardized)"
          % (best_epoch, best))
    model.eval()
    fold_affine(model, xm, xs, ym, ys)
    with torch.no_grad():
        pred = model(torch.from_numpy(xte)).squeeze(1).numpy()
    r2, mae = r2_score(yte, pred), mean_absolute_error(yte, pred)
    lin = LinearRegression().fit(xtr, ytr).predict(xte)
    print("regression: linear least squares on the same split: test R^2 %.4f, MAE %.2f"
          % (r2_score(yte, lin), mean_absolute_error(yte, lin)))
    print("regression: %d train / %d test rows, test R^2 %.4f, MAE %.2f (target std %.1f)"
          % (len(xtr), len(xte), r2, mae, yte.std()))

    rows = torch.from_numpy(xte[:4])
    export(model, rows, os.path.join(outdir, "regression.onnx"), "x", "y")
    with torch.no_grad():
        out = model(rows)
    write_json(os.path.join(outdir, "regression.request.json"),
               {"inputs": np.round(xte[:4].astype(np.float64), 4).tolist()})
    write_json(os.path.join(outdir, "regression.expected.json"), {"outputs": out.tolist()})
    print("  request rows' true targets: %s" % yte[:4].tolist())
    return r2, mae


class DigitsCnn(nn.Module):
    """[*,1,8,8] pixels 0..16 -> 2 convs -> pool -> 64 -> 10 -> softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def logits(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def make_digits(outdir):
    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32).reshape(-1, 1, 8, 8)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    torch.manual_seed(SEED)
    model = DigitsCnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(xtr / 16.0), torch.from_numpy(ytr)
    for epoch in range(30):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model.logits(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():  # take raw 0..16 pixels: fold the /16 into conv1
        model.conv1.weight.div_(16.0)
        probs = model(torch.from_numpy(xte)).numpy()
    acc = float((probs.argmax(1) == yte).mean())
    print("digits: %d train / %d test images, test accuracy %.4f (%d wrong)"
          % (len(xtr), len(xte), acc, int((probs.argmax(1) != yte).sum())))

    rows = torch.from_numpy(xte[:4])
    export(model, rows, os.path.join(outdir, "digits.onnx"), "image", "probs")
    with torch.no_grad():
        out = model(rows)
    write_json(os.path.join(outdir, "digits.request.json"), {"inputs": xte[:4].tolist()})
    write_json(os.path.join(outdir, "digits.expected.json"), {"outputs": out.tolist()})
    print("  request images' labels: %s, predicted %s" % (yte[:4].tolist(),
                                                          out.argmax(1).tolist()))
    return acc


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    make_regression(outdir)
    make_digits(outdir)


if __name__ == "__main__":
    main()
