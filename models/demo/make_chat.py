#!/usr/bin/python3
"""Train the demo chat model shipped as models/chat.gguf.

A small llama-architecture model (RMSNorm, RoPE on adjacent pairs, causal
grouped-query attention, SwiGLU, tied embeddings) on the fortune cookies of
Debian's `fortunes` package, each framed as a ChatML exchange, with a
SentencePiece BPE vocabulary. Writes NAME-f32.gguf and NAME.gguf (Q8_0) with
llama.cpp's key and tensor names, NAME.expected.json (prompt ids and the
greedy tokens PyTorch picks) and prints losses and sample generations.

Needs: apt-get install python3-torch python3-sentencepiece fortunes
Run:   OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 /usr/bin/python3 make_chat.py \
           --work /some/dir --minutes 20
       then copy /some/dir/chat.gguf to models/chat.gguf.
"""

import argparse
import json
import math
import os
import random
import re
import sys
import time

import sentencepiece as spm
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402

FORTUNE_DIR = "/usr/share/games/fortunes"
SKIP_FILES = {"ascii-art", "translate-me"}  # pictures and untranslated stubs
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                   "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
PROMPTS = ["Tell me a fortune.", "Tell me something.", "Say something wise.", "Tell me a joke.",
           "Give me a quote.", "Tell me something funny.", "What does my fortune cookie say?",
           "Any words of wisdom?", "Cheer me up.", "Say something.", "Hello!", "Hi"]
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are a fortune cookie.",
                  "You are a witty assistant."]

CONFIG = dict(n_vocab=3072, dim=192, n_layer=4, n_head=6, n_head_kv=2, ffn=512, ctx=256,
              rope_base=10000.0, eps=1e-5)


# ---- corpus ----

def clean(text):
    """One fortune: runs of tabs/spaces become one space, lines stripped."""
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(lines).strip()


def read_fortunes():
    out = []
    for name in sorted(os.listdir(FORTUNE_DIR)):
        path = os.path.join(FORTUNE_DIR, name)
        if (name in SKIP_FILES or "." in name or os.path.islink(path)
                or not os.path.isfile(path)):
            continue
        raw = open(path, "rb").read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        for chunk in re.split(r"^%\s*$", text, flags=re.M):
            f = clean(chunk)
            if 0 < len(f) <= 700:
                out.append(f)
    return out


def conversation(rng, fortunes):
    """A list of (role, content): sometimes a system message, one or (10%)
    two user/assistant turns."""
    msgs = []
    if rng.random() < 0.15:
        msgs.append(("system", rng.choice(SYSTEM_PROMPTS)))
    for f in fortunes:
        msgs.append(("user", rng.choice(PROMPTS)))
        msgs.append(("assistant", f))
    return msgs


def chatml(msgs, generation_prompt=False):
    s = "".join("%s%s\n%s%s\n" % (IM_START, r, c, IM_END) for r, c in msgs)
    return s + (IM_START + "assistant\n" if generation_prompt else "")


# ---- tokenizer ----

def train_vocab(fortunes, prefix, vocab_size):
    """SentencePiece BPE over the fortune lines. The model's own dummy
    prefix is off because encode() below adds the space the way llama.cpp's
    tokenizer does (add_space_prefix): before every text fragment that
    follows a special token or starts the text."""
    lines = [ln for f in fortunes for ln in f.split("\n") if ln]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=prefix, model_type="bpe",
        vocab_size=vocab_size, character_coverage=0.9995, byte_fallback=True,
        split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", control_symbols=[IM_START, IM_END],
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=2, minloglevel=2,
        max_sentence_length=4096, train_extremely_large_corpus=False)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


class Tokenizer:
    def __init__(self, sp):
        self.sp = sp
        self.bos = sp.bos_id()
        self.special = {IM_START: sp.piece_to_id(IM_START), IM_END: sp.piece_to_id(IM_END)}
        self.im_end = self.special[IM_END]

    def encode(self, text, add_bos=True):
        """As llama.cpp with parse_special: split at special tokens, each
        text fragment after a special (or at the start) gets a leading space."""
        ids = [self.bos] if add_bos else []
        for part in re.split("(%s|%s)" % (re.escape(IM_START), re.escape(IM_END)), text):
            if part in self.special:
                ids.append(self.special[part])
            elif part:
                ids += self.sp.encode(" " + part)
        return ids

    def decode(self, ids):
        return self.sp.decode([i for i in ids if not self.sp.is_control(i)])


# ---- model: llama in GGUF terms ----

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, n_pos, base):
    """theta_i = base^(-2i/d), rotating the adjacent pair (x[2i], x[2i+1])
    as ggml's normal rope does."""
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(n_pos, dtype=torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def rope(x, cos, sin):
    # x: [B, H, T, hd]; cos/sin: [T, hd/2]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head, self.n_kv, self.hd = c["n_head"], c["n_head_kv"], c["dim"] // c["n_head"]
        d = c["dim"]
        self.attn_norm = RMSNorm(d, c["eps"])
        self.wq = nn.Linear(d, self.n_head * self.hd, bias=False)
        self.wk = nn.Linear(d, self.n_kv * self.hd, bias=False)
        self.wv = nn.Linear(d, self.n_kv * self.hd, bias=False)
        self.wo = nn.Linear(self.n_head * self.hd, d, bias=False)
        self.ffn_norm = RMSNorm(d, c["eps"])
        self.w_gate = nn.Linear(d, c["ffn"], bias=False)
        self.w_up = nn.Linear(d, c["ffn"], bias=False)
        self.w_down = nn.Linear(c["ffn"], d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.n_head, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = self.n_head // self.n_kv  # query head j uses kv head j // rep
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask
        a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.wo(a)
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok_embd = nn.Embedding(c["n_vocab"], c["dim"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["n_layer"]))
        self.out_norm = RMSNorm(c["dim"], c["eps"])
        cos, sin = rope_tables(c["dim"] // c["n_head"], c["ctx"], c["rope_base"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["n_layer"]) if name.endswith(
                    ("wo.weight", "w_down.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, idx):
        T = idx.shape[1]
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.tok_embd(idx)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], mask)
        return self.out_norm(x) @ self.tok_embd.weight.t()  # tied output


# ---- training ----

def build_stream(tok, fortunes, rng):
    ids = []
    i = 0
    while i < len(fortunes):
        n = 2 if rng.random() < 0.1 else 1
        ids += tok.encode(chatml(conversation(rng, fortunes[i:i + n])))
        i += n
    return torch.tensor(ids, dtype=torch.long)


def batches(stream, T, B, gen):
    start = torch.randint(0, len(stream) - T - 1, (B,), generator=gen)
    x = torch.stack([stream[s:s + T + 1] for s in start.tolist()])
    return x[:, :-1], x[:, 1:]


@torch.no_grad()
def evaluate(model, stream, T, max_windows=64):
    model.eval()
    tot, n = 0.0, 0
    for s in range(0, min(len(stream) - T - 1, max_windows * T), T):
        w = stream[s:s + T + 1][None]
        logits = model(w[:, :-1])
        tot += F.cross_entropy(logits[0], w[0, 1:], reduction="sum").item()
        n += T
    model.train()
    return tot / n


def lr_at(frac, peak, warm_frac=0.03):
    if frac < warm_frac:
        return peak * frac / warm_frac
    p = min(1.0, (frac - warm_frac) / (1 - warm_frac))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


def train(model, train_s, val_s, args, log):
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95),
                            weight_decay=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    budget = args.minutes * 60.0
    t0, step, ema = time.time(), 0, None
    while True:
        frac = step / args.steps if args.steps else (time.time() - t0) / budget
        if frac >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, args.lr)
        x, y = batches(train_s, args.seq, args.batch, gen)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 50 == 0:
            log("step %d  %.0fs  lr %.2e  train loss (ema) %.3f" %
                (step, time.time() - t0, opt.param_groups[0]["lr"], ema))
        if step % 500 == 0:
            log("  val loss %.3f" % evaluate(model, val_s, args.seq, 16))
    return step, time.time() - t0


# ---- generation and export ----

@torch.no_grad()
def generate(model, ids, n, temperature=0.0, top_k=0, gen=None, stop=None):
    model.eval()
    out = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([out[-model.c["ctx"]:]]))[0, -1]
        if temperature == 0:
            t = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, top_k).values[-1]
                logits[logits < kth] = float("-inf")
            t = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))
        out.append(t)
        if t == stop:
            break
    return out[len(ids):]


def export(model, tok, path, ttype):
    c, sd = model.c, {k: v.detach().numpy() for k, v in model.state_dict().items()}
    sp = tok.sp
    w = gw.GGUFWriter()
    w.add_str("general.architecture", "llama")
    w.add_str("general.name", "modeld chat demo")
    w.add_u32("general.file_type", 7 if ttype == gw.TYPE_Q8_0 else 0)
    if ttype == gw.TYPE_Q8_0:
        w.add_u32("general.quantization_version", 2)
    w.add_u32("llama.vocab_size", c["n_vocab"])
    w.add_u32("llama.context_length", c["ctx"])
    w.add_u32("llama.embedding_length", c["dim"])
    w.add_u32("llama.block_count", c["n_layer"])
    w.add_u32("llama.feed_forward_length", c["ffn"])
    w.add_u32("llama.attention.head_count", c["n_head"])
    w.add_u32("llama.attention.head_count_kv", c["n_head_kv"])
    w.add_f32("llama.rope.freq_base", c["rope_base"])
    w.add_f32("llama.attention.layer_norm_rms_epsilon", c["eps"])
    w.add_u32("llama.rope.dimension_count", c["dim"] // c["n_head"])
    n = sp.get_piece_size()
    types = [3 if sp.is_control(i) else 2 if sp.is_unknown(i) else 6 if sp.is_byte(i) else 1
             for i in range(n)]
    w.add_str("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", gw.STRING, [sp.id_to_piece(i) for i in range(n)])
    w.add_array("tokenizer.ggml.scores", gw.FLOAT32, [sp.get_score(i) for i in range(n)])
    w.add_array("tokenizer.ggml.token_type", gw.INT32, types)
    w.add_u32("tokenizer.ggml.bos_token_id", sp.bos_id())
    w.add_u32("tokenizer.ggml.eos_token_id", tok.im_end)
    w.add_u32("tokenizer.ggml.eot_token_id", tok.im_end)
    w.add_u32("tokenizer.ggml.unknown_token_id", sp.unk_id())
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_bool("tokenizer.ggml.add_eos_token", False)
    w.add_bool("tokenizer.ggml.add_space_prefix", True)
    w.add_str("tokenizer.chat_template", CHATML_TEMPLATE)

    def mat(name, key):
        w.add_tensor(name, sd[key], ttype)

    mat("token_embd.weight", "tok_embd.weight")
    w.add_tensor("output_norm.weight", sd["out_norm.weight"])
    names = [("attn_q", "wq"), ("attn_k", "wk"), ("attn_v", "wv"), ("attn_output", "wo"),
             ("ffn_gate", "w_gate"), ("ffn_up", "w_up"), ("ffn_down", "w_down")]
    for i in range(c["n_layer"]):
        w.add_tensor("blk.%d.attn_norm.weight" % i, sd["blocks.%d.attn_norm.weight" % i])
        w.add_tensor("blk.%d.ffn_norm.weight" % i, sd["blocks.%d.ffn_norm.weight" % i])
        for g, t in names:
            mat("blk.%d.%s.weight" % (i, g), "blocks.%d.%s.weight" % (i, t))
    return w.write(path)


def q8_0_roundtrip(model):
    """A copy of model whose matrices hold their Q8_0-rounded values."""
    m = Llama(model.c)
    m.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 2:
                a = p.numpy()
                p.copy_(torch.from_numpy(gw.dequantize_q8_0(gw.quantize_q8_0(a), a.shape)))
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="directory for vocab, checkpoint, outputs")
    ap.add_argument("--name", default="chat")
    ap.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    ap.add_argument("--steps", type=int, default=0, help="fixed step count (overrides time)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1,
                    help="1 beat 2 threads on a busy 2-core machine")
    ap.add_argument("--layers", type=int, default=CONFIG["n_layer"])
    ap.add_argument("--export-only", action="store_true", help="reuse the saved checkpoint")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.work, exist_ok=True)
    logf = open(os.path.join(args.work, args.name + ".log"), "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    rng = random.Random(args.seed)
    fortunes = read_fortunes()
    rng.shuffle(fortunes)
    n_val = len(fortunes) // 20
    val_f, train_f = fortunes[:n_val], fortunes[n_val:]
    c = dict(CONFIG, n_layer=args.layers)
    sp = train_vocab(train_f, os.path.join(args.work, "vocab"), c["n_vocab"])
    tok = Tokenizer(sp)
    train_s, val_s = build_stream(tok, train_f, rng), build_stream(tok, val_f, rng)
    log("fortunes: %d train, %d validation; tokens: %d train, %d validation; "
        "%.2f fortune characters per token (chat framing included in the tokens)"
        % (len(train_f), len(val_f), len(train_s), len(val_s),
           sum(map(len, train_f)) / len(train_s)))
    model = Llama(c)
    log("parameters: %d" % sum(p.numel() for p in model.parameters()))
    ckpt = os.path.join(args.work, args.name + ".pt")
    if args.export_only:
        model.load_state_dict(torch.load(ckpt))
    else:
        steps, secs = train(model, train_s, val_s, args, log)
        torch.save(model.state_dict(), ckpt)
        log("trained %d steps (%d tokens) in %.0f s" % (steps, steps * args.batch * args.seq,
                                                         secs))
    tl, vl = evaluate(model, train_s, args.seq), evaluate(model, val_s, args.seq)
    log("final loss: train %.4f (perplexity %.2f), validation %.4f (perplexity %.2f)"
        % (tl, math.exp(tl), vl, math.exp(vl)))
    mq = q8_0_roundtrip(model)
    vq = evaluate(mq, val_s, args.seq)
    log("validation loss with Q8_0-rounded weights: %.4f (perplexity %.2f)" % (vq, math.exp(vq)))

    expected = []
    for p in ["Tell me a fortune.", "Say something wise.", "Tell me a joke."]:
        ids = tok.encode(chatml([("user", p)], generation_prompt=True))
        g = generate(model, ids, 48, stop=tok.im_end)
        gq = generate(mq, ids, 48, stop=tok.im_end)
        expected.append({"prompt": p, "prompt_ids": ids, "greedy_f32": g, "greedy_q8_0": gq,
                         "text_f32": tok.decode(g)})
        log("greedy  %r -> %r" % (p, tok.decode(g)))
        gen = torch.Generator().manual_seed(args.seed)
        for _ in range(2):
            s = generate(model, ids, 96, 0.8, 40, gen, stop=tok.im_end)
            log("sample  %r -> %r" % (p, tok.decode(s)))
    with open(os.path.join(args.work, args.name + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    for suffix, t in (("-f32.gguf", gw.TYPE_F32), (".gguf", gw.TYPE_Q8_0)):
        size = export(model, tok, os.path.join(args.work, args.name + suffix), t)
        log("wrote %s%s: %d bytes" % (args.name, suffix, size))


if __name__ == "__main__":
    main()
