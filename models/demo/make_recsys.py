#!/usr/bin/python3
"""Make models/recsys.gguf: a two-tower retrieval model over 50,000 items
trained on synthetic user-item interactions with latent structure.

Data (numpy, vectorized): 16 topic centres in a 16-d latent space; each item
is a centre plus noise, with a Zipf-like popularity; each of 20,000 users has
a main topic (weight 0.75) and a side topic (0.25) and a latent factor near
their mix. 22 distinct interactions per user: each from the main topic with
probability 0.75, else the side topic, and within the topic drawn from
softmax(3 * user . item / 4 + popularity) without replacement (the Gumbel
top-k trick, one numpy draw per topic). In a random order, the first 20 are
the history, the last 2 are held out. Dense user features: the noisy topic
mix (16 floats).
Model: user tower = [dense, masked mean of a 32-d history embedding] -> MLP
-> 64-d; item tower = a 50,000 x 64 table (the catalog). Trained with
in-batch negatives (sampled softmax with a log-frequency correction): each
example's target is one history item, left out of its history.
Evaluation on the last 2,000 users: recall@10 of the 2 held-out items with
the history excluded, for the F32 model (numpy), the converted F32 and Q8_0
files (through `modelctl predict`) and a popularity baseline.
Export: ONNX with TopK(100) of user . catalog^T, converted with
`modelctl convert --quant q8_0 --pad hist_ids=0 --exclude-input seen`.

usage: OMP_WAIT_POLICY=PASSIVE make_recsys.py MODELCTL OUTDIR
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

N_ITEMS, N_USERS, TOPICS, LAT, DIM, HIST, HELD, K = 50000, 20000, 16, 16, 64, 20, 2, 100
N_EVAL, CHUNK = 2000, 500


def topic_draws(rng, user_f, item_f, pop, users, items, n):
    """Per user of users, n distinct items of items drawn from softmax(3 *
    user . item / sqrt(LAT) + popularity) without replacement (Gumbel top-n,
    sorted, so any prefix is itself such a draw)."""
    logits = 3.0 * (user_f[users] @ item_f[items].T) / np.sqrt(LAT) + pop[items]
    logits += rng.gumbel(size=logits.shape).astype(np.float32)
    top = np.argpartition(-logits, n, 1)[:, :n]
    order = np.argsort(-np.take_along_axis(logits, top, 1), 1)
    return items[np.take_along_axis(top, order, 1)]


def make_data(rng):
    """(dense [U,TOPICS] float32, interactions [U,HIST+HELD] item ids).
    Each interaction comes from the user's main topic with probability 0.75,
    else from the side topic; within a topic by softmax of affinity plus
    popularity. One numpy draw per topic, no loop over users or items."""
    n = HIST + HELD
    centre = rng.normal(0, 1, (TOPICS, LAT))
    item_topic = rng.integers(0, TOPICS, N_ITEMS)
    item_f = (centre[item_topic] + 0.8 * rng.normal(0, 1, (N_ITEMS, LAT))).astype(np.float32)
    pop = (-0.5 * np.log(rng.permutation(N_ITEMS) + 1.0)).astype(np.float32)
    main, side = rng.integers(0, TOPICS, N_USERS), rng.integers(0, TOPICS, N_USERS)
    mix = np.zeros((N_USERS, TOPICS))
    mix[np.arange(N_USERS), main] += 0.75
    mix[np.arange(N_USERS), side] += 0.25
    user_f = (mix @ centre + 0.8 * rng.normal(0, 1, (N_USERS, LAT))).astype(np.float32)
    dense = (mix + 0.1 * rng.normal(0, 1, mix.shape)).astype(np.float32)
    from_main = np.empty((N_USERS, n), dtype=np.int64)
    from_side = np.empty((N_USERS, n), dtype=np.int64)
    for t in range(TOPICS):
        items = np.flatnonzero(item_topic == t)
        for which, dst in ((main, from_main), (side, from_side)):
            users = np.flatnonzero(which == t)
            dst[users] = topic_draws(rng, user_f, item_f, pop, users, items, n)
    n_main = np.where(main == side, n, rng.binomial(n, 0.75, N_USERS))[:, None]
    col = np.arange(n)[None, :]
    pick = np.where(col < n_main, col, n + col - n_main)
    inter = np.take_along_axis(np.concatenate([from_main, from_side], 1), pick, 1)
    return dense, rng.permuted(inter, axis=1)  # a random interaction order


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


def train(tower, items, dense_t, hist_t, n_train, log_freq, epochs=2, batch=1024):
    """In-batch negatives, `epochs` passes worth of history items: each
    example's target is one of its history items
    (removed from its history, plus 20% dropout of the rest); the other
    examples' targets are its negatives; logits get -log(frequency)."""
    opt = torch.optim.Adam(list(tower.parameters()) + list(items.parameters()), 2e-3)
    g = torch.Generator().manual_seed(6)
    steps = epochs * n_train * HIST // batch
    for step in range(steps):
        u = torch.randint(0, n_train, (batch,), generator=g)
        j = torch.randint(0, HIST, (batch,), generator=g)
        h = hist_t[u].clone()
        target = h[torch.arange(batch), j] - 1
        h[torch.arange(batch), j] = 0
        h[torch.rand(h.shape, generator=g) < 0.2] = 0
        logits = tower(dense_t[u], h) @ items(target).t() - log_freq[target][None, :]
        same = target[:, None] == target[None, :]
        logits = logits.masked_fill(same & ~torch.eye(batch, dtype=torch.bool), -1e9)
        loss = F.cross_entropy(logits, torch.arange(batch))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print("step %d/%d loss %.3f" % (step, steps, loss.item()), flush=True)


def recall10(top, held):
    """Share of held-out items among the returned top-10 ids."""
    return float(np.mean([len(set(t) & set(h)) / len(h) for t, h in zip(top, held)]))


def numpy_top10(user, catalog, hist):
    """Top-10 ids per user, history excluded."""
    out = []
    for u0 in range(0, user.shape[0], CHUNK):
        s = user[u0:u0 + CHUNK] @ catalog.T
        np.put_along_axis(s, hist[u0:u0 + CHUNK], -np.inf, 1)
        top = np.argpartition(-s, 10, 1)[:, :10]
        out += top.tolist()
    return out


def modelctl_top10(modelctl, gguf, dense, hist, tmp):
    """Top-10 ids per user from `modelctl predict` on the file (history sent
    as hist_ids, id + 1, and as the exclusion input seen)."""
    req = {"inputs": {"dense": dense.tolist(), "hist_ids": (hist + 1).tolist(),
                      "seen": hist.tolist()}, "k": 10}
    path = os.path.join(tmp, "eval.request.json")
    with open(path, "w") as f:
        json.dump(req, f)
    out = subprocess.run([modelctl, "predict", gguf, path], check=True, capture_output=True)
    return json.loads(out.stdout)["outputs"]["item_ids"]


def export(tower, items, modelctl, dense_t, hist_t, outdir, tmp):
    model = Retrieval(tower, items).eval()
    onnx_path = os.path.join(tmp, "recsys.onnx")
    torch.onnx.export(model, (dense_t[:2], hist_t[:2]), onnx_path,
                      input_names=["dense", "hist_ids"], output_names=["scores", "item_ids"],
                      opset_version=13,
                      dynamic_axes={"dense": {0: "b"}, "hist_ids": {0: "b", 1: "l"},
                                    "scores": {0: "b"}, "item_ids": {0: "b"}})
    files = {}
    for q in ("f32", "q8_0"):
        files[q] = os.path.join(outdir if q == "q8_0" else tmp, "recsys.gguf")
        subprocess.check_call([modelctl, "convert", onnx_path, files[q], "--quant", q,
                               "--pad", "hist_ids=0", "--exclude-input", "seen"])
    return files


def main():
    modelctl, outdir = sys.argv[1], sys.argv[2]
    torch.manual_seed(5)
    torch.set_num_threads(2)
    t0 = time.time()
    dense, inter = make_data(np.random.default_rng(5))
    print("data: %d users x %d interactions in %.1f s" % (N_USERS, HIST + HELD,
                                                          time.time() - t0), flush=True)
    hist, held = inter[:, :HIST], inter[:, HIST:]
    n_train = N_USERS - N_EVAL
    tower, items = UserTower(), nn.Embedding(N_ITEMS, DIM)
    nn.init.normal_(items.weight, 0, 0.05)
    counts = np.bincount(hist[:n_train].ravel(), minlength=N_ITEMS).astype(np.float64)
    log_freq = torch.from_numpy(np.log((counts + 1) / counts.sum()).astype(np.float32))
    dense_t, hist_t = torch.from_numpy(dense), torch.from_numpy(hist + 1)
    t0 = time.time()
    train(tower, items, dense_t, hist_t, n_train, log_freq)
    print("training: %.1f s" % (time.time() - t0), flush=True)
    ev = slice(n_train, N_USERS)
    with torch.no_grad():
        user = tower(dense_t[ev], hist_t[ev]).numpy()
    catalog = items.weight.detach().numpy()
    r = {"f32_numpy": recall10(numpy_top10(user, catalog, hist[ev]), held[ev])}
    pop_top = np.argsort(-counts, kind="stable")[:10 + HIST]
    r["popularity"] = recall10([[i for i in pop_top if i not in set(h)][:10] for h in hist[ev]],
                               held[ev])
    with tempfile.TemporaryDirectory() as tmp:
        files = export(tower, items, modelctl, dense_t, hist_t, outdir, tmp)
        for q, path in files.items():
            r[q + "_modelctl"] = recall10(modelctl_top10(modelctl, path, dense[ev], hist[ev],
                                                         tmp), held[ev])
    print("recall@10 of held-out (%d users, history excluded): %s" %
          (N_EVAL, " ".join("%s %.4f" % kv for kv in r.items())))
    u = n_train
    req = {"model": "recsys", "k": 5,
           "inputs": {"dense": [np.round(dense[u].astype(np.float64), 3).tolist()],
                      "hist_ids": [(hist[u][:6] + 1).tolist()],
                      "seen": [hist[u][:6].tolist()]}}
    with open(os.path.join(outdir, "demo", "recsys.request.json"), "w") as f:
        json.dump(req, f)
        f.write("\n")
    with open(os.path.join(outdir, "demo", "recsys.metrics.json"), "w") as f:
        json.dump({"recall10": r, "items": N_ITEMS, "users": N_USERS, "eval_users": N_EVAL},
                  f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
