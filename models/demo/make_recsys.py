#!/usr/bin/python3
"""Make models/recsys.gguf: a two-tower retrieval model over 50,000 items
trained on synthetic user-item interactions with latent structure.

Data: 8 topics; item factors = topic centre + noise (16-d), a Zipf-like
popularity bias; each of 20,000 users has a topic mix and a factor near its
main topic; 22 interactions per user are drawn from softmax(user . item *
3 + popularity). The last 2 per user are held out; the first 20 are the
user's history. User features: 8 dense floats (the noisy topic mix) and the
history ids (item id + 1, 0 = padding).
Model: user tower = [dense, masked mean of a 32-d history embedding] -> MLP
-> 64-d; item tower = a 50,000 x 64 embedding table (the catalog); trained
with full softmax over the catalog. Exported as ONNX with TopK(100) of
user . catalog^T and converted with `modelctl convert --quant q8_0 --pad
hist_ids=0 --exclude-input seen`.

usage: make_recsys.py MODELCTL OUTDIR   (run with OMP_WAIT_POLICY=PASSIVE)
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_ITEMS, N_USERS, TOPICS, LAT, DIM, HIST, HELD, K = 50000, 20000, 8, 16, 64, 20, 2, 100


def make_data(rng):
    centre = rng.normal(0, 1, (TOPICS, LAT))
    item_topic = rng.integers(0, TOPICS, N_ITEMS)
    item_f = centre[item_topic] + 0.5 * rng.normal(0, 1, (N_ITEMS, LAT))
    pop = -1.0 * np.log(rng.permutation(N_ITEMS) + 1.0) / 3.0
    user_topic = rng.integers(0, TOPICS, N_USERS)
    user_f = centre[user_topic] + 0.5 * rng.normal(0, 1, (N_USERS, LAT))
    mix = np.full((N_USERS, TOPICS), 0.05)
    mix[np.arange(N_USERS), user_topic] = 0.65
    dense = (mix + 0.1 * rng.normal(0, 1, mix.shape)).astype(np.float32)
    inter = np.zeros((N_USERS, HIST + HELD), dtype=np.int64)
    for u0 in range(0, N_USERS, 1000):
        logits = 0.5 * user_f[u0:u0 + 1000] @ item_f.T + pop
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        for j in range(p.shape[0]):
            inter[u0 + j] = rng.choice(N_ITEMS, HIST + HELD, replace=False, p=p[j])
    return dense, inter


class UserTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.hist = nn.Embedding(N_ITEMS + 1, 32, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(TOPICS + 32, 128), nn.ReLU(), nn.Linear(128, DIM))

    def forward(self, dense, hist_ids):
        mask = (hist_ids != 0).float().unsqueeze(-1)
        total = (self.hist(hist_ids) * mask).sum(1)
        count = mask.sum(1).clamp(min=1.0)
        return self.mlp(torch.cat([dense, total / count], 1))


class Retrieval(nn.Module):
    def __init__(self, tower, items):
        super().__init__()
        self.tower, self.items = tower, items

    def forward(self, dense, hist_ids):
        scores = self.tower(dense, hist_ids) @ self.items.weight.t()
        return torch.topk(scores, K, dim=1)


def recall10(user, catalog, hist, held):
    """Share of held-out items found in the top 10 (history excluded)."""
    hit = 0
    for u0 in range(0, user.shape[0], 500):
        s = user[u0:u0 + 500] @ catalog.T
        np.put_along_axis(s, hist[u0:u0 + 500], -np.inf, 1)
        top = np.argpartition(-s, 10, 1)[:, :10]
        hit += sum(len(set(top[j]) & set(held[u0 + j])) for j in range(top.shape[0]))
    return hit / held.size


def q8_0(x):
    """The catalog as a Q8_0 file holds it: per 32, d = max|x| / 127 rounded
    to f16, q = round(x / d)."""
    b = x.reshape(-1, 32)
    d = (np.abs(b).max(1, keepdims=True) / 127.0).astype(np.float16).astype(np.float32)
    q = np.round(np.divide(b, d, out=np.zeros_like(b), where=d > 0))
    return (q * d).reshape(x.shape)


def main():
    modelctl, outdir = sys.argv[1], sys.argv[2]
    torch.manual_seed(5)
    torch.set_num_threads(2)
    dense, inter = make_data(np.random.default_rng(5))
    hist, held = inter[:, :HIST], inter[:, HIST:]
    n_train = N_USERS - 2000  # the last 2,000 users are evaluated
    tower, items = UserTower(), nn.Embedding(N_ITEMS, DIM)
    nn.init.normal_(items.weight, 0, 0.05)
    opt = torch.optim.Adam(list(tower.parameters()) + list(items.parameters()), 3e-3)
    dense_t, hist_t = torch.from_numpy(dense), torch.from_numpy(hist + 1)
    for step in range(600):
        u = torch.randint(0, n_train, (512,))
        # Leave one history item out as the target; history keeps the rest.
        j = torch.randint(0, HIST, (512,))
        target = hist_t[u, j] - 1
        h = hist_t[u].clone()
        h[torch.arange(512), j] = 0
        drop = torch.rand(h.shape) < 0.3
        h[drop] = 0
        loss = F.cross_entropy(tower(dense_t[u], h) @ items.weight.t(), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print("step %d loss %.3f" % (step, loss.item()), flush=True)
    ev = slice(n_train, N_USERS)
    with torch.no_grad():
        user = tower(dense_t[ev], hist_t[ev]).numpy()
    catalog = items.weight.detach().numpy()
    r_f32 = recall10(user, catalog, hist[ev], held[ev])
    r_q8 = recall10(user, q8_0(catalog), hist[ev], held[ev])
    counts = np.bincount(hist[:n_train].ravel(), minlength=N_ITEMS).astype(np.float64)
    r_pop = recall10(np.ones((2000, 1)), counts[:, None], hist[ev], held[ev])
    print("recall@10 held-out: f32 %.4f q8_0 %.4f popularity %.4f" % (r_f32, r_q8, r_pop))
    model = Retrieval(tower, items).eval()
    onnx_path = os.path.join(outdir, "recsys.onnx")
    args = (dense_t[ev][:2], hist_t[ev][:2])
    torch.onnx.export(model, args, onnx_path, input_names=["dense", "hist_ids"],
                      output_names=["scores", "item_ids"], opset_version=13,
                      dynamic_axes={"dense": {0: "b"}, "hist_ids": {0: "b", 1: "l"},
                                    "scores": {0: "b"}, "item_ids": {0: "b"}})
    gguf = os.path.join(outdir, "recsys.gguf")
    subprocess.check_call([modelctl, "convert", onnx_path, gguf, "--quant", "q8_0",
                           "--pad", "hist_ids=0", "--exclude-input", "seen"])
    u = n_train
    req = {"inputs": {"dense": [dense[u].round(3).tolist()],
                      "hist_ids": [(hist[u][:5] + 1).tolist()],
                      "seen": [hist[u][:5].tolist()]}, "k": 10}
    with open(os.path.join(outdir, "recsys.request.json"), "w") as f:
        json.dump(req, f)
    with open(os.path.join(outdir, "recsys.metrics.json"), "w") as f:
        json.dump({"recall10_f32": r_f32, "recall10_q8_0": r_q8, "recall10_popularity": r_pop,
                   "items": N_ITEMS, "users": N_USERS, "eval_users": 2000}, f)


if __name__ == "__main__":
    main()
