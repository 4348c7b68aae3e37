// A random llama-architecture GGUF v3 file written in JavaScript, for
// end-to-end tests that need a long context (long generations to cut or
// abort). Same keys and vocabulary as tests/fixtures/make_llama.py; the
// output rows of <unk>, <s> and </s> are zero so greedy decoding never picks
// them (some random logit is positive) and never ends at </s> by chance.
import fs from "node:fs";

const U32 = 4, F32 = 6, BOOL = 7, STR = 8, ARR = 9, I32 = 5;

function str(s) {
	const b = Buffer.from(s, "utf8"), n = Buffer.alloc(8);
	n.writeBigUInt64LE(BigInt(b.length));
	return Buffer.concat([n, b]);
}

function u32(v) {
	const b = Buffer.alloc(4);
	b.writeUInt32LE(v);
	return b;
}

function u64(v) {
	const b = Buffer.alloc(8);
	b.writeBigUInt64LE(BigInt(v));
	return b;
}

// [type, payload] of a metadata value: integers u32, numbers f32, strings,
// arrays of strings / f32 ({f32: [...]}) / i32 ({i32: [...]}).
function value(v) {
	if (typeof v === "boolean") return [BOOL, Buffer.from([v ? 1 : 0])];
	if (typeof v === "string") return [STR, str(v)];
	if (Number.isInteger(v)) return [U32, u32(v)];
	if (typeof v === "number") {
		const b = Buffer.alloc(4);
		b.writeFloatLE(v);
		return [F32, b];
	}
	if (Array.isArray(v)) return [ARR, Buffer.concat([u32(STR), u64(v.length), ...v.map(str)])];
	const [t, xs] = v.f32 ? [F32, v.f32] : [I32, v.i32];
	const b = Buffer.alloc(4 * xs.length);
	xs.forEach((x, i) => (t === F32 ? b.writeFloatLE(x, 4 * i) : b.writeInt32LE(x, 4 * i)));
	return [ARR, Buffer.concat([u32(t), u64(xs.length), b])];
}

// Deterministic normal-ish numbers (xorshift32, sum of 4 uniforms).
function rng(seed) {
	let s = seed >>> 0 || 1;
	const u = () => {
		s ^= s << 13;
		s >>>= 0;
		s ^= s >>> 17;
		s ^= s << 5;
		s >>>= 0;
		return s / 4294967296;
	};
	return () => (u() + u() + u() + u() - 2) * Math.sqrt(3);
}

// Write the model; h: {n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab,
// n_ctx, seed, bytes, chat_template, extra, add_eos}. With bytes, tokens 3-258 are the
// byte-fallback tokens <0x00>-<0xFF>, so any text can be written (n_vocab >
// 258). extra: texts of user-defined tokens (read whole from text, as
// <think> in DeepSeek-R1's vocabulary) from id 259 (with bytes) or 3 on.
// Returns path.
export function writeRandomLlama(path, h) {
	const E = h.n_embd, F = h.n_ff, V = h.n_vocab, KV = (E / h.n_head) * h.n_head_kv;
	const rnd = rng(h.seed ?? 1);
	const mat = (n, k, gain = 1) => {
		const a = new Float32Array(n * k);
		for (let i = 0; i < a.length; i++) a[i] = (rnd() * gain) / Math.sqrt(k);
		return a;
	};
	const norm = (n) => Float32Array.from({ length: n }, () => 1 + 0.2 * rnd());
	const t = [["token_embd.weight", [E, V], mat(V, E, Math.sqrt(E))]];
	for (let i = 0; i < h.n_layer; i++) {
		const p = `blk.${i}.`;
		t.push([p + "attn_norm.weight", [E], norm(E)], [p + "attn_q.weight", [E, E], mat(E, E, 2)],
			[p + "attn_k.weight", [E, KV], mat(KV, E, 2)], [p + "attn_v.weight", [E, KV], mat(KV, E)],
			[p + "attn_output.weight", [E, E], mat(E, E)], [p + "ffn_norm.weight", [E], norm(E)],
			[p + "ffn_gate.weight", [E, F], mat(F, E)], [p + "ffn_up.weight", [E, F], mat(F, E)],
			[p + "ffn_down.weight", [F, E], mat(E, F)]);
	}
	const out = mat(V, E, 3);
	out.fill(0, 0, 3 * E);
	t.push(["output_norm.weight", [E], norm(E)], ["output.weight", [E, V], out]);
	const toks = ["<unk>", "<s>", "</s>"];
	const byteTok = (i) => h.bytes && i >= 3 && i < 259;
	const extra = h.extra ?? [], first = h.bytes ? 259 : 3;
	const extraTok = (i) => i >= first && i < first + extra.length;
	for (let i = 3; i < V; i++)
		toks.push(byteTok(i) ? `<0x${(i - 3).toString(16).toUpperCase().padStart(2, "0")}>`
			: extraTok(i) ? extra[i - first] : `tok${i}`);
	const kvs = [
		["general.architecture", "llama"], ["general.name", "random llama"],
		["llama.context_length", h.n_ctx], ["llama.embedding_length", E],
		["llama.block_count", h.n_layer], ["llama.feed_forward_length", F],
		["llama.rope.dimension_count", E / h.n_head], ["llama.attention.head_count", h.n_head],
		["llama.attention.head_count_kv", h.n_head_kv],
		["llama.attention.layer_norm_rms_epsilon", 1e-5], ["general.file_type", 0],
		["tokenizer.ggml.model", "llama"], ["tokenizer.ggml.tokens", toks],
		["tokenizer.ggml.scores", { f32: toks.map((_, i) => -i - 0.5) }],
		["tokenizer.ggml.token_type", { i32: toks.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : byteTok(i) ? 6 : extraTok(i) ? 4 : 1)) }],
		["tokenizer.ggml.bos_token_id", 1], ["tokenizer.ggml.eos_token_id", 2],
	];
	if (h.chat_template)
		kvs.push(["tokenizer.chat_template", h.chat_template]);
	if (h.add_eos !== undefined)
		kvs.push(["tokenizer.ggml.add_eos_token", h.add_eos]);
	const parts = [Buffer.from("GGUF"), u32(3), u64(t.length), u64(kvs.length)];
	for (const [k, v] of kvs) {
		const [ty, b] = value(v);
		parts.push(str(k), u32(ty), b);
	}
	let off = 0;
	for (const [name, ne, a] of t) {
		parts.push(str(name), u32(ne.length), ...ne.map(u64), u32(0), u64(off));
		off += Math.ceil((a.length * 4) / 32) * 32;
	}
	let head = Buffer.concat(parts);
	head = Buffer.concat([head, Buffer.alloc((32 - (head.length % 32)) % 32)]);
	const body = [head];
	for (const [, , a] of t) {
		const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
		body.push(b, Buffer.alloc((32 - (b.length % 32)) % 32));
	}
	fs.writeFileSync(path, Buffer.concat(body));
	return path;
}
