// Language models through the official OpenAI client: chat, completions and
// streaming against the PyTorch greedy reference of the llama fixture,
// streamed logprobs equal to the non-streamed ones, 8 concurrent requests
// equal to the same requests one at a time (F32 in small steps, Q4_K_M in
// steps of hundreds of rows), stop strings, max_tokens and
// usage, the prompt cache (answers equal to reading afresh), logit_bias, text
// parts and the developer role, refused schema keywords, JSON output
// (response_format json_object and json_schema), function calling (tools,
// tool_choice, past calls and results), reasoning apart (reasoning_content), echo with
// the prompt's logprobs (against PyTorch), stop_token_ids / min_tokens / ignore_eos,
// /v1/embeddings (against PyTorch), the OpenAI model list,
// disconnected clients (streamed or not, running
// or queued) freeing their slot, a full queue (503), a prompt longer than the
// context (400), metrics and the request log's token fields; then SIGTERM
// during two long streams: both end cleanly and modeld exits 0.
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import * as t from "./lib.mjs";
import { writeRandomLlama } from "./llama_gguf.mjs";

t.need();
const dir = t.tmpdir();
const gguf = path.join(t.srcdir, "tests/fixtures/llama/gqa-f32.gguf");

// tests/fixtures/llama/gqa.ref: "LREF", n_prompt, n_gen, n_vocab, prompt,
// greedy continuation, logits per prompt position (from PyTorch).
const ref = fs.readFileSync(path.join(t.srcdir, "tests/fixtures/llama/gqa.ref"));
const [nP, nG, nV] = [4, 8, 12].map((o) => ref.readInt32LE(o));
const ids = (o, n) => Array.from({ length: n }, (_, i) => ref.readInt32LE(o + 4 * i));
const refPrompt = ids(16, nP), refGen = ids(16 + 4 * nP, nG);
const lastLogits = Array.from({ length: nV }, (_, i) =>
	ref.readFloatLE(16 + 4 * (nP + nG) + 4 * ((nP - 1) * nV + i)));
// the fixture's vocabulary (make_llama.py): 3 control tokens, newline, the
// space piece, the printable ASCII bytes, then tok100, tok101, ...
const piece = (id) => (id < 3 ? "" : id === 3 ? "\n" : id === 4 ? " "
	: id < 100 ? String.fromCharCode(0x20 + id - 5) : `tok${id}`);
const logSoftmax = (v, i) => {
	const m = Math.max(...v);
	return v[i] - m - Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};

// a random llama with a 16384-token context: generations long enough to
// abort or cut. LONG tokens take about 22 s on the AVX2 test machine (3000
// took 0.8 s), so a slot that is not freed, or a stream that is not cut,
// shows against the 1.5 s and 1 s bounds below even on a much faster one.
const LONG = 16000;
const longGguf = writeRandomLlama(path.join(dir, "long.gguf"), {
	n_embd: 128, n_layer: 8, n_head: 4, n_head_kv: 2, n_ff: 256, n_vocab: 256, n_ctx: 16384, seed: 3,
});
// random models whose byte tokens can write any text, for function calling:
// ChatML (no template: Qwen 2.5's tool format) and Llama 3.1 (a template
// with its markers)
const bytesModel = { n_embd: 64, n_layer: 2, n_head: 4, n_head_kv: 2, n_ff: 128, n_vocab: 300, n_ctx: 4096,
	seed: 5, bytes: true };
const toolsGguf = writeRandomLlama(path.join(dir, "tools.gguf"), bytesModel);
const tools3Gguf = writeRandomLlama(path.join(dir, "tools3.gguf"), { ...bytesModel,
	chat_template: "<|start_header_id|> Environment: ipython Cutting Knowledge Date" });
const toolsMGguf = writeRandomLlama(path.join(dir, "toolsm.gguf"), { ...bytesModel,
	chat_template: "[INST][/INST] [AVAILABLE_TOOLS] [TOOL_CALLS]" });
// the same with <think> and </think> as whole tokens (ids 259 and 260, as
// DeepSeek-R1's vocabulary has them): DeepSeek-R1's template, whose prompt
// opens the block, and ChatML, where an answer may open it
const thinkModel = { ...bytesModel, seed: 7, extra: ["<think>", "</think>"] };
const thinkGguf = writeRandomLlama(path.join(dir, "think.gguf"), { ...thinkModel,
	chat_template: "<\uff5cUser\uff5c> <\uff5cAssistant\uff5c>" });
const thinkCGguf = writeRandomLlama(path.join(dir, "thinkc.gguf"), thinkModel);
// an embedding model's tokenizer flag: EOS after each text
const eosGguf = writeRandomLlama(path.join(dir, "eos.gguf"), { ...bytesModel, seed: 9, add_eos: true });
const srv = await t.start(dir, {}, {
	tiny: { path: gguf, parallel: 4, max_queue: 16, ctx_size: 256, prompt_chunk: 8 },
	one: { path: gguf, parallel: 1, max_queue: 1, ctx_size: 256, kv_cache_type: "f32" },
	long: { path: longGguf, parallel: 1, max_queue: 4, ctx_size: 16384 },
	chat: { path: path.join(t.srcdir, "models/chat.gguf"), parallel: 2, ctx_size: 256 },
	chatin: { path: path.join(t.srcdir, "models/chat.gguf"), parallel: 1, ctx_size: 256, repack: 0 },
	kqin: { path: path.join(t.srcdir, "tests/fixtures/llama/kq-q4_k_m.gguf"), parallel: 1,
		ctx_size: 256, repack: 0 },
	kq: { path: path.join(t.srcdir, "tests/fixtures/llama/kq-q4_k_m.gguf"), parallel: 8, ctx_size: 256 },
	kq8: { path: path.join(t.srcdir, "tests/fixtures/llama/kq-q4_k_m.gguf"), parallel: 2, ctx_size: 256,
		kv_cache_type: "q8_0" },
	nocache: { path: gguf, parallel: 2, ctx_size: 256, prompt_cache: 0 },
	long2: { path: longGguf, parallel: 2, ctx_size: 4096 },
	long2nc: { path: longGguf, parallel: 1, ctx_size: 4096, prompt_cache: 0 },
	tools: { path: toolsGguf, parallel: 1, ctx_size: 4096 },
	tools3: { path: tools3Gguf, parallel: 1, ctx_size: 4096 },
	toolsgemma: { path: toolsGguf, parallel: 1, ctx_size: 4096, chat_template: "gemma" },
	toolsm: { path: toolsMGguf, parallel: 1, ctx_size: 4096 },
	think: { path: thinkGguf, parallel: 2, ctx_size: 512 },
	thinkc: { path: thinkCGguf, parallel: 1, ctx_size: 512 },
	thinkn: { path: thinkGguf, parallel: 1, ctx_size: 512, reasoning_format: "none" },
	emb: { path: gguf, parallel: 2, ctx_size: 256, kv_cache_type: "f32", prompt_chunk: 8 },
	embl: { path: gguf, parallel: 1, ctx_size: 256, kv_cache_type: "f32", pooling: "last" },
	embc: { path: gguf, parallel: 1, ctx_size: 256, kv_cache_type: "f32", pooling: "cls" },
	embe: { path: eosGguf, parallel: 1, ctx_size: 256, pooling: "last" },
});
const client = new OpenAI({ baseURL: srv.base + "/v1", apiKey: "none", maxRetries: 0 });

// greedy completion from token ids equals PyTorch's continuation
let c = await client.completions.create({
	model: "tiny", prompt: refPrompt, max_tokens: 16, temperature: 0, logprobs: 2,
});
t.checkEq(c.object, "text_completion", "completion object");
t.checkEq(c.choices[0].text, refGen.slice(0, 16).map(piece).join(""), "greedy = PyTorch reference");
t.checkEq(c.choices[0].finish_reason, "length", "max_tokens -> length");
t.checkEq(c.usage, { prompt_tokens: nP, completion_tokens: 16, total_tokens: nP + 16,
	prompt_tokens_details: { cached_tokens: 0 } }, "usage");
const counts = (u) => [u.prompt_tokens, u.completion_tokens, u.total_tokens];
const lp0 = c.choices[0].logprobs.token_logprobs[0];
t.check(Math.abs(lp0 - logSoftmax(lastLogits, refGen[0])) < 1e-3,
	`first token logprob ${lp0} vs reference ${logSoftmax(lastLogits, refGen[0])}`);
t.checkEq(c.choices[0].logprobs.tokens.slice(0, 3), refGen.slice(0, 3).map(piece), "logprob tokens");
t.checkEq(Object.keys(c.choices[0].logprobs.top_logprobs[0]).length, 2, "top 2 logprobs");
const cLogprobs = c.choices[0].logprobs;

// streaming equals the non-streamed text, for completions and chat
const collect = async (stream) => {
	let text = "", fin = null, usage = null, roles = 0;
	for await (const ch of stream) {
		if (ch.usage) usage = ch.usage;
		for (const ck of ch.choices) {
			text += ck.delta ? ck.delta.content || "" : ck.text || "";
			if (ck.delta && ck.delta.role) roles++;
			if (ck.finish_reason) fin = ck.finish_reason;
		}
	}
	return { text, fin, usage, roles };
};
let s = await collect(await client.completions.create({
	model: "tiny", prompt: refPrompt, max_tokens: 16, temperature: 0, stream: true,
}));
t.checkEq([s.text, s.fin], [c.choices[0].text, "length"], "streamed completion");

// echo: the prompt back with its tokens' logprobs (how lm-evaluation-harness
// scores texts through a completions server), against PyTorch's logits at
// every prompt position (model "one": an F32 KV cache, as the reference)
{
	const refLogits = (p) => Array.from({ length: nV }, (_, i) =>
		ref.readFloatLE(16 + 4 * (nP + nG) + 4 * (p * nV + i)));
	const promptText = refPrompt.map(piece).join("");
	const e0 = (await client.completions.create({ model: "one", prompt: refPrompt, max_tokens: 0, echo: true,
		logprobs: 2, temperature: 0 }));
	const ch = e0.choices[0];
	t.checkEq([ch.text, ch.finish_reason, e0.usage.prompt_tokens, e0.usage.completion_tokens],
		[promptText, "length", nP, 0], "echo with max_tokens 0: the prompt alone");
	t.checkEq([ch.logprobs.tokens, ch.logprobs.token_logprobs[0], ch.logprobs.top_logprobs[0]],
		[refPrompt.map(piece), null, null], "echo: the prompt's tokens, the first without a logprob");
	let worst = 0, topsOk = true;
	for (let p = 1; p < nP; p++) {
		const l = refLogits(p - 1);
		worst = Math.max(worst, Math.abs(ch.logprobs.token_logprobs[p] - logSoftmax(l, refPrompt[p])));
		const top2 = l.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, i]) => piece(i));
		topsOk &&= JSON.stringify(Object.keys(ch.logprobs.top_logprobs[p]).sort()) === JSON.stringify(top2.sort());
	}
	t.check(worst < 1e-5, `echo: prompt logprobs = PyTorch's log-softmax (worst difference ${worst})`);
	t.check(topsOk, "echo: each prompt position's top 2 are PyTorch's");
	let off = 0;
	t.checkEq(ch.logprobs.text_offset, refPrompt.map((id) => (off += piece(id).length) - piece(id).length),
		"echo: text offsets");
	// with a continuation: the prompt, then what the request without echo gives
	const e1 = (await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 16, echo: true,
		logprobs: 2, temperature: 0 })).choices[0];
	t.checkEq([e1.text, e1.logprobs.token_logprobs.slice(nP), e1.logprobs.tokens.slice(nP)],
		[promptText + c.choices[0].text, cLogprobs.token_logprobs, cLogprobs.tokens],
		"echo with a continuation: prompt + the same greedy answer and logprobs");
	t.checkEq(e1.logprobs.text_offset.slice(nP), cLogprobs.text_offset.map((o) => o + promptText.length),
		"echo: the answer's offsets follow the prompt's text");
	// streamed: the prompt first, then the answer; the same text and logprobs
	let sText = "", sLps = [];
	for await (const ck of await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 16,
		echo: true, logprobs: 2, temperature: 0, stream: true }))
		for (const x of ck.choices) {
			sText += x.text;
			if (x.logprobs) sLps.push(...x.logprobs.token_logprobs);
		}
	t.checkEq([sText, sLps], [e1.text, e1.logprobs.token_logprobs], "echo streamed = echo whole");
	// a text prompt comes back as the model read it (its pieces: a SentencePiece
	// space before it), so that the tokens and offsets index the text
	const e3 = (await client.completions.create({ model: "tiny", prompt: "Hello world", max_tokens: 3,
		echo: true, logprobs: 1, temperature: 0 })).choices[0];
	let o3 = 0;
	t.checkEq([e3.text.startsWith(" Hello world"), e3.logprobs.tokens.join(""),
		e3.logprobs.text_offset], [true, e3.text, e3.logprobs.tokens.map((x) => (o3 += x.length) - x.length)],
	"echo of a text prompt: its pieces, and the tokens and offsets index the text");
	// n = 3: each choice echoes the prompt with the same logprobs, streamed as whole
	const e2q = { model: "tiny", prompt: "The quick", max_tokens: 3, echo: true, logprobs: 1, n: 3, seed: 4,
		temperature: 1 };
	const e2 = await client.completions.create(e2q);
	const pn = e2.usage.prompt_tokens;
	t.check(e2.choices.length === 3 && e2.choices.every((x) => x.text.startsWith(" The quick") &&
		JSON.stringify(x.logprobs.token_logprobs.slice(0, pn)) ===
		JSON.stringify(e2.choices[0].logprobs.token_logprobs.slice(0, pn))),
	`echo in every choice: ${JSON.stringify(e2.choices.map((x) => x.text))}`);
	const byIdx = [[], [], []];
	for await (const ck of await client.completions.create({ ...e2q, stream: true }))
		for (const x of ck.choices) byIdx[x.index].push(x);
	t.checkEq(byIdx.map((cs) => [cs.map((x) => x.text).join(""), cs.flatMap((x) => x.logprobs?.token_logprobs ?? [])]),
		e2.choices.map((x) => [x.text, x.logprobs.token_logprobs]), "echo with n = 3 streamed = whole");
	// several prompts (OpenAI's array form): choice i answers prompt i / n as
	// that prompt alone with seed + i would, echo and prompt logprobs its own
	const mq = { model: "tiny", prompt: ["The quick", refPrompt, [5, 6, 7]], max_tokens: 4, n: 2,
		temperature: 1, seed: 9, echo: true, logprobs: 1 };
	const mp = await client.completions.create(mq);
	const singles = [];
	for (let i = 0; i < 6; i++)
		singles.push(await client.completions.create({ ...mq, prompt: mq.prompt[i >> 1], n: 1, seed: 9 + i }));
	const row = (x) => [x.text, x.finish_reason, x.logprobs.tokens, x.logprobs.token_logprobs];
	t.checkEq([mp.choices.map((x) => x.index), mp.choices.map(row)],
		[[0, 1, 2, 3, 4, 5], singles.map((x) => row(x.choices[0]))],
		"three prompts x n = 2: each choice = its prompt alone with seed + index");
	const sum = (f) => singles.reduce((a, x, i) => a + (f === "prompt_tokens" && i % 2 ? 0 : x.usage[f]), 0);
	t.checkEq(counts(mp.usage), [sum("prompt_tokens"), sum("completion_tokens"),
		sum("prompt_tokens") + sum("completion_tokens")], "several prompts: usage counts each prompt once");
	const mIdx = [[], [], [], [], [], []];
	for await (const ck of await client.completions.create({ ...mq, stream: true }))
		for (const x of ck.choices) mIdx[x.index].push(x);
	t.checkEq(mIdx.map((cs) => [cs.map((x) => x.text).join(""), cs.flatMap((x) => x.logprobs?.token_logprobs ?? [])]),
		mp.choices.map((x) => [x.text, x.logprobs.token_logprobs]), "several prompts streamed = whole");
	for (const [path, body, what] of [
		["/v1/completions", { model: "tiny", prompt: [] }, "an empty prompt list"],
		["/v1/completions", { model: "tiny", prompt: ["a", 5] }, "a prompt list with a number"],
		["/v1/completions", { model: "tiny", prompt: ["a", [1, 1e6]] }, "a list with a token out of the vocabulary"],
		["/v1/completions", { model: "tiny", prompt: ["a", "b"], n: 65 }, "prompts x n above 128"],
		["/v1/predict", { model: "tiny", prompt: ["a", "b"] }, "several prompts on /v1/predict"]]) {
		const r0 = await t.http(srv, "POST", path, body);
		t.checkEq([r0.status, r0.json?.error?.code], [400, "invalid_request"], `${what} refused`);
	}
	const mc = await client.completions.create({ model: "tiny", prompt: refPrompt, max_completion_tokens: 0,
		echo: true });
	t.checkEq([mc.choices[0].text, mc.usage.completion_tokens], [promptText, 0], "max_completion_tokens 0 with echo");
	// a character cut between the prompt's last byte tokens and the answer's
	// comes whole, streamed or not ("A", 0xE2 0x82, then 0xAC forced: "A€")
	const cutq = { model: "tools", prompt: [1, 68, 229, 133], max_tokens: 1, echo: true, temperature: 0,
		logit_bias: { 175: 100 } };
	const cutWhole = (await client.completions.create(cutq)).choices[0].text;
	let cutStream = "";
	for await (const ck of await client.completions.create({ ...cutq, stream: true }))
		for (const x of ck.choices) cutStream += x.text;
	t.checkEq([cutWhole, cutStream], ["A\u20ac", "A\u20ac"], "echo: a character across the prompt's end");
	// the same when the prompt is nothing but the start of that character
	const cut2 = { ...cutq, prompt: [229, 133] };
	let cut2Stream = "";
	for await (const ck of await client.completions.create({ ...cut2, stream: true }))
		for (const x of ck.choices) cut2Stream += x.text;
	t.checkEq([(await client.completions.create(cut2)).choices[0].text, cut2Stream], ["\u20ac", "\u20ac"],
		"echo: a prompt that is only a character's start");
	for (const [body, what] of [[{ model: "tiny", prompt: refPrompt, max_tokens: 0 }, "max_tokens 0 without echo"]]) {
		const r0 = await t.http(srv, "POST", "/v1/completions", body);
		t.checkEq([r0.status, r0.json.error.code], [400, "invalid_request"], `${what} refused`);
	}
	const rc = await t.http(srv, "POST", "/v1/chat/completions", { model: "tiny", echo: true,
		messages: [{ role: "user", content: "Hi" }] });
	t.checkEq([rc.status, rc.json.error.code], [400, "invalid_request"], "echo on chat refused");
}

// vLLM's stop_token_ids and min_tokens, and ignore_eos (llama.cpp's and
// vLLM's), on the PyTorch greedy continuation refGen
{
	const greedy = (extra) => client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 16,
		temperature: 0, logprobs: 1, ...extra });
	const upTo = refGen.indexOf(refGen[3]) + 1;
	let g = (await greedy({ stop_token_ids: [refGen[3], 2] })).choices[0];
	t.checkEq([g.text, g.finish_reason], [refGen.slice(0, upTo).map(piece).join(""), "stop"],
		"stop_token_ids: the answer ends with that token's text");
	g = (await greedy({ stop_token_ids: [refGen[0]], min_tokens: 1 })).choices[0];
	t.check(g.logprobs.tokens[0] !== piece(refGen[0]) && g.logprobs.tokens.length === 16,
		`min_tokens 1: the first token is not a stop token (${JSON.stringify(g.logprobs.tokens.slice(0, 2))})`);
	// end-of-sequence made likeliest: at once without ignore_eos, never with it
	const eos = { 2: 100 };
	g = (await greedy({ logit_bias: eos, max_tokens: 8 })).choices[0];
	t.checkEq([g.text, g.finish_reason], ["", "stop"], "EOS biased up: an empty answer");
	let u = await greedy({ logit_bias: eos, max_tokens: 8, ignore_eos: true });
	t.checkEq([u.choices[0].text, u.choices[0].finish_reason, u.usage.completion_tokens],
		[refGen.slice(0, 8).map(piece).join(""), "length", 8], "ignore_eos: EOS is never drawn");
	u = await greedy({ logit_bias: eos, min_tokens: 5 });
	t.checkEq([u.choices[0].text, u.choices[0].finish_reason],
		[refGen.slice(0, 5).map(piece).join(""), "stop"], "min_tokens 5: EOS after 5 tokens");
	// stop strings are looked for from min_tokens on
	const full = refGen.slice(0, 16).map(piece).join(""), stop = piece(refGen[0]);
	const at = full.indexOf(stop, stop.length);
	g = (await greedy({ stop, min_tokens: 2 })).choices[0];
	t.checkEq([g.text, g.finish_reason], [at < 0 ? full : full.slice(0, at), at < 0 ? "length" : "stop"],
		"min_tokens 2: a stop string in the first token does not count");
	g = (await greedy({ stop })).choices[0];
	t.checkEq([g.text, g.finish_reason], ["", "stop"], "without min_tokens it does");
	// JSON output too: "{" (id 96) as a stop token waits for min_tokens
	u = await client.completions.create({ model: "tiny", prompt: "Hello", max_tokens: 20, temperature: 0,
		response_format: { type: "json_object" }, stop_token_ids: [96], min_tokens: 6 });
	t.checkEq([u.choices[0].finish_reason, u.usage.completion_tokens >= 6, u.choices[0].text.trim()],
		["stop", true, "{"], `min_tokens with JSON output: ${JSON.stringify(u.choices[0].text)}`);
	for (const [extra, what] of [[{ min_tokens: 20 }, "min_tokens past max_tokens"],
		[{ stop_token_ids: [nV] }, "a stop token id past the vocabulary"],
		[{ stop_token_ids: "2" }, "stop_token_ids not an array"], [{ ignore_eos: 1 }, "ignore_eos not a boolean"]]) {
		const r0 = await t.http(srv, "POST", "/v1/completions", { model: "tiny", prompt: refPrompt, max_tokens: 16,
			...extra });
		t.checkEq([r0.status, r0.json.error.code], [400, "invalid_request"], `${what} refused`);
	}
}

const msgs = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there" }];
const chat = await client.chat.completions.create({
	model: "tiny", messages: msgs, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 3,
});
t.checkEq([chat.object, chat.choices[0].message.role], ["chat.completion", "assistant"], "chat shape");
t.check(/^chatcmpl-/.test(chat.id), "chat id");
t.checkEq(chat.choices[0].logprobs.content.length, 12, "one logprob per token");
t.checkEq(chat.choices[0].logprobs.content.map((x) => x.token).join(""),
	chat.choices[0].message.content, "logprob tokens spell the content");
t.check(chat.choices[0].logprobs.content.every((x) => x.top_logprobs.length === 3 &&
	x.top_logprobs[0].logprob >= x.logprob - 1e-6), "top_logprobs hold the best");
s = await collect(await client.chat.completions.create({
	model: "tiny", messages: msgs, max_tokens: 12, temperature: 0, stream: true,
	stream_options: { include_usage: true },
}));
t.checkEq([s.text, s.fin, s.roles], [chat.choices[0].message.content, "length", 1], "streamed chat");
t.checkEq(counts(s.usage), counts(chat.usage), "streamed usage");
// the same prompt again: the slot that answered it holds all but its last token
t.checkEq(s.usage.prompt_tokens_details.cached_tokens, chat.usage.prompt_tokens - 1,
	"prompt cache: a repeated prompt is read from the slot");

// the shipped demo chat model (models/chat.gguf): ChatML from its template,
// greedy answers ending at <|im_end|> as PyTorch's (models/demo/CHAT.md)
for (const x of t.readJSON("models/demo/chat.expected.json")) {
	const q = { model: "chat", messages: [{ role: "user", content: x.prompt }], max_tokens: 48, temperature: 0 };
	const a = await client.chat.completions.create(q);
	t.checkEq([a.choices[0].message.content, a.choices[0].finish_reason, a.usage.prompt_tokens,
		a.usage.completion_tokens], [x.text_f32, "stop", x.prompt_ids.length, x.greedy_q8_0.length],
		`chat.gguf: ${x.prompt}`);
	s = await collect(await client.chat.completions.create({ ...q, stream: true }));
	t.checkEq([s.text, s.fin], [x.text_f32, "stop"], `chat.gguf streamed: ${x.prompt}`);
}

// repack = 0 (every matrix read in place from the file): the tokens and
// logprobs of the packed matrices, bit for bit
for (const [a, b] of [["chat", "chatin"], ["kq", "kqin"]]) {
	const q = { prompt: [1, 5, 9, 2], max_tokens: 24, temperature: 0, logprobs: 3 };
	const x = await client.completions.create({ ...q, model: a });
	const y = await client.completions.create({ ...q, model: b });
	t.checkEq([y.choices[0].text, y.choices[0].logprobs], [x.choices[0].text, x.choices[0].logprobs],
		`repack = 0 answers as the packed ${a}`);
}

// sampled text with byte-fallback pieces that are not UTF-8 on their own:
// the answer keeps its text (invalid bytes become U+FFFD) instead of an
// empty string (seed 1 at this temperature produces such bytes)
{
	const c = await client.completions.create({ model: "chat", prompt: "Once upon a time",
		temperature: 1.5, seed: 1, max_tokens: 250 });
	const text = c.choices[0].text;
	t.check(c.usage.completion_tokens > 20 && text.length >= c.usage.completion_tokens,
		`sampled text kept (${text.length} chars for ${c.usage.completion_tokens} tokens)`);
}

// streamed logprobs, joined over the chunks, equal the non-streamed ones
let content = [];
for await (const ch of await client.chat.completions.create({
	model: "tiny", messages: msgs, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 3,
	stream: true,
})) content.push(...(ch.choices[0]?.logprobs?.content ?? []));
t.checkEq(content, chat.choices[0].logprobs.content, "streamed chat logprobs");
const joined = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
for await (const ch of await client.completions.create({
	model: "tiny", prompt: refPrompt, max_tokens: 16, temperature: 0, logprobs: 2, stream: true,
})) {
	for (const k of Object.keys(joined)) joined[k].push(...(ch.choices[0].logprobs?.[k] ?? []));
}
t.checkEq(joined, cLogprobs, "streamed completion logprobs");
t.checkEq(joined.tokens.length, 16, "one streamed logprob per token");

// raw SSE headers and framing
let r = await fetch(srv.base + "/v1/chat/completions", {
	method: "POST", headers: { "content-type": "application/json" },
	body: JSON.stringify({ model: "tiny", messages: msgs, max_tokens: 3, temperature: 0, stream: true }),
});
const sse = await r.text();
t.checkEq([r.headers.get("content-type"), r.headers.get("x-accel-buffering"),
	r.headers.get("cache-control")], ["text/event-stream", "no", "no-cache"], "SSE headers");
const events = sse.split("\n\n").filter((x) => x);
t.check(sse.endsWith("data: [DONE]\n\n") && events.length >= 4 &&
	events.slice(0, -1).every((x) => x.startsWith("data: {") && JSON.parse(x.slice(6))),
	`SSE framing: ${sse}`);
t.checkEq(JSON.parse(events.at(-2).slice(6)).choices[0].finish_reason, "length", "last chunk ends");

// stop strings end the text before the match, streamed or not, no leak
const full = c.choices[0].text;
const stop = full.match(/tok\d+/g)[3];
const want = full.slice(0, full.indexOf(stop));
c = await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 16,
	temperature: 0, stop: ["zzz", stop] });
t.checkEq([c.choices[0].text, c.choices[0].finish_reason], [want, "stop"], "stop string");
t.check(c.usage.completion_tokens < 16, "stopped early");
s = await collect(await client.completions.create({ model: "tiny", prompt: refPrompt,
	max_tokens: 16, temperature: 0, stop, stream: true }));
t.checkEq([s.text, s.fin], [want, "stop"], "streamed stop string");

// 8 concurrent greedy requests = the same requests one at a time
const reqs = Array.from({ length: 8 }, (_, i) => ({
	model: "tiny", temperature: 0, max_tokens: 10 + 3 * i,
	messages: [{ role: "user", content: `question number ${i} ` + "x".repeat(5 * i) }],
}));
const alone = [];
for (const q of reqs) alone.push((await client.chat.completions.create(q)).choices[0].message.content);
const together = await Promise.all(reqs.map((q) => client.chat.completions.create(q)));
t.checkEq(together.map((x) => x.choices[0].message.content), alone, "concurrent = one at a time");
t.check(new Set(alone).size > 1, "different prompts, different texts");

// the same with a Q4_K_M file and the default prompt_chunk: the 8 prompts
// (30-86 tokens) go in together, so steps of up to 256 rows hold all of
// them; each text still equals its lone run
const kreqs = Array.from({ length: 8 }, (_, i) => ({
	model: "kq", temperature: 0, max_tokens: 24, prompt: `question number ${i} ` + "xy z".repeat(2 * i + 3),
}));
const kalone = [];
for (const q of kreqs) kalone.push((await client.completions.create(q)).choices[0].text);
const ktogether = await Promise.all(kreqs.map((q) => client.completions.create(q)));
t.checkEq(ktogether.map((x) => x.choices[0].text), kalone, "Q4_K_M: concurrent = one at a time");
t.check(new Set(kalone).size > 1, "Q4_K_M: different prompts, different texts");
// and seeded sampling repeats under load too
const sreqs = kreqs.map((q, i) => ({ ...q, temperature: 1.0, top_k: 40, seed: 100 + i }));
const salone = [];
for (const q of sreqs) salone.push((await client.completions.create(q)).choices[0].text);
const stogether = await Promise.all(sreqs.map((q) => client.completions.create(q)));
t.checkEq(stogether.map((x) => x.choices[0].text), salone, "Q4_K_M seeded: concurrent = one at a time");

// sampling with a seed repeats; /v1/predict answers {model, text, usage}
const seeded = { model: "tiny", prompt: "abc", max_tokens: 12, temperature: 1.5, top_k: 50, seed: 7 };
const a1 = await client.completions.create(seeded), a2 = await client.completions.create(seeded);
t.checkEq(a1.choices[0].text, a2.choices[0].text, "same seed, same text");
r = await t.http(srv, "POST", "/v1/predict", { model: "tiny", prompt: refPrompt, max_tokens: 5, temperature: 0 });
t.checkEq([r.status, r.json.model, r.json.text, r.json.usage.completion_tokens],
	[200, "tiny", refGen.slice(0, 5).map(piece).join(""), 5], "/v1/predict");

// client errors: context, n, bad fields, unknown model; all OpenAI-shaped
const apiErr = async (p) => { try { await p; return null; } catch (e) { return e; } };
let e = await apiErr(client.completions.create({ model: "tiny", prompt: "y".repeat(400), max_tokens: 4 }));
t.checkEq([e && e.status, e && e.code], [400, "context_length_exceeded"], "prompt longer than the context");
e = await apiErr(client.chat.completions.create({ model: "tiny", messages: msgs, n: 17 }));
t.checkEq([e && e.status, e && e.code], [400, "invalid_request"], "n above max_queue refused");
r = await t.http(srv, "POST", "/v1/predict", { model: "tiny", prompt: "abc", max_tokens: 3, n: 2 });
t.checkEq(r.status, 400, "n=2 on /v1/predict refused");
// n choices: choice i is the answer of the same request with seed + i, in
// one answer or streamed by index; the prompt counts once
const nq = { model: "tiny", messages: msgs, max_tokens: 12, temperature: 0.9, top_k: 0, seed: 11 };
const promptMetrics = async () => {
	const text = (await t.http(srv, "GET", "/metrics")).text;
	return [Number(/^modeld_llm_prompt_tokens_total\{model="tiny"\} (\S+)$/m.exec(text)[1]),
		Number(/^modeld_llm_prompt_cached_tokens_total\{model="tiny"\} (\S+)$/m.exec(text)[1])];
};
const pm0 = await promptMetrics();
const three = await client.chat.completions.create({ ...nq, n: 3 });
const pm1 = await promptMetrics();
// the later choices wait for the first to read the prompt, then copy it
t.check(pm1[0] - pm0[0] + pm1[1] - pm0[1] === 3 * three.usage.prompt_tokens &&
	pm1[0] - pm0[0] <= three.usage.prompt_tokens + 2,
	`n=3 reads the prompt once: ${pm1[0] - pm0[0]} read, ${pm1[1] - pm0[1]} copied of 3 x ${three.usage.prompt_tokens}`);
const singles = [];
for (let i = 0; i < 3; i++) singles.push(await client.chat.completions.create({ ...nq, seed: 11 + i }));
t.checkEq(three.choices.map((c) => [c.index, c.message.content, c.finish_reason]),
	singles.map((a, i) => [i, a.choices[0].message.content, a.choices[0].finish_reason]),
	"n=3: choice i = the answer with seed + i");
t.checkEq(counts(three.usage), [singles[0].usage.prompt_tokens,
	singles.reduce((x, a) => x + a.usage.completion_tokens, 0),
	singles[0].usage.prompt_tokens + singles.reduce((x, a) => x + a.usage.completion_tokens, 0)],
	"n=3 usage: the prompt once, every choice's tokens");
const byIndex = ["", "", ""], finishes = [];
let usageChunk = null;
for await (const ch of await client.chat.completions.create({ ...nq, n: 3, stream: true,
	stream_options: { include_usage: true } })) {
	if (ch.usage) usageChunk = ch.usage;
	for (const c of ch.choices) {
		byIndex[c.index] += c.delta?.content ?? "";
		if (c.finish_reason) finishes.push([c.index, c.finish_reason]);
	}
}
t.checkEq([byIndex, finishes.sort(), counts(usageChunk)], [three.choices.map((c) => c.message.content),
	three.choices.map((c) => [c.index, c.finish_reason]), counts(three.usage)],
	"n=3 streamed: each index's text and end, the usage at the end");
const ktwo = await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 8, n: 2,
	temperature: 1.2, seed: 5 });
const kone = await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 8,
	temperature: 1.2, seed: 6 });
t.checkEq(ktwo.choices[1].text, kone.choices[0].text, "completions n=2: choice 1 = seed + 1");
e = await apiErr(client.completions.create({ model: "tiny", prompt: "a", temperature: "hot" }));
t.checkEq(e && e.status, 400, "bad temperature");
e = await apiErr(client.chat.completions.create({ model: "nope", messages: msgs }));
t.checkEq(e && e.status, 404, "unknown model");
// the prompt cache in a conversation: each turn resends the history, which
// the slot of the turn before holds; the answers equal those of a model
// that reads every prompt afresh (prompt_cache = 0), token for token
{
	const hist = [];
	let cachedTurns = 0, lastPrompt = 0;
	for (let turn = 0; turn < 2; turn++) {
		hist.push({ role: "user", content: `q${turn}` });
		const q = (model) => client.chat.completions.create({ model, messages: hist, max_tokens: 2,
			temperature: 0 });
		const [a, b] = [await q("tiny"), await q("nocache")];
		t.checkEq([a.choices[0].message.content, counts(a.usage)],
			[b.choices[0].message.content, counts(b.usage)], `prompt cache, turn ${turn}: = read afresh`);
		t.checkEq(b.usage.prompt_tokens_details.cached_tokens, 0, `prompt_cache = 0, turn ${turn}`);
		cachedTurns += turn > 0 && a.usage.prompt_tokens_details.cached_tokens >= 10;
		lastPrompt = a.usage.prompt_tokens;
		hist.push({ role: "assistant", content: a.choices[0].message.content });
	}
	t.checkEq(cachedTurns, 1, "prompt cache: turn 1 reads the history from a slot");
	// a new conversation takes the slot used least recently, so the first
	// keeps its history (nocache has 2 slots too: the same answers)
	const other = [{ role: "user", content: "another conversation" }];
	const o = await client.chat.completions.create({ model: "tiny", messages: other, max_tokens: 2,
		temperature: 0 });
	hist.push({ role: "user", content: "q2" });
	const again = await client.chat.completions.create({ model: "tiny", messages: hist, max_tokens: 2,
		temperature: 0 });
	// all of the last turn's prompt (a start of this one) is still there,
	// not only the template's opening that the other conversation shares
	t.check(again.usage.prompt_tokens_details.cached_tokens >= lastPrompt &&
		o.usage.prompt_tokens_details.cached_tokens < lastPrompt,
		`the first conversation kept its slot: ${again.usage.prompt_tokens_details.cached_tokens} ` +
		`cached of ${again.usage.prompt_tokens} (last turn's prompt: ${lastPrompt}; the other ` +
		`conversation: ${o.usage.prompt_tokens_details.cached_tokens})`);
	// a system prompt shared with a conversation still running in another
	// slot: its keys and values are copied, and the answer is still the one
	// reading it all gives
	const sys = { role: "system", content: "You answer questions about the shared system prompt." };
	const ac2 = new AbortController();
	const running = await fetch(srv.base + "/v1/chat/completions", {
		method: "POST", headers: { "content-type": "application/json" }, signal: ac2.signal,
		body: JSON.stringify({ model: "long2", messages: [sys, { role: "user", content: "first" }],
			max_tokens: 3500, temperature: 0, stream: true }),
	});
	const rd2 = running.body.getReader();
	await rd2.read();
	const share = [sys, { role: "user", content: "second" }];
	const sa = await client.chat.completions.create({ model: "long2", messages: share,
		max_tokens: 4, temperature: 0 });
	const stillRunning = !(await Promise.race([rd2.read().then((x) => x.done), t.sleep(1).then(() => false)]));
	ac2.abort();
	const sb = await client.chat.completions.create({ model: "long2nc", messages: share,
		max_tokens: 4, temperature: 0 });
	t.check(stillRunning, "the first conversation was still running");
	t.checkEq([sa.choices[0].message.content, counts(sa.usage)], [sb.choices[0].message.content,
		counts(sb.usage)], "a shared system prompt copied from a running slot: = read afresh");
	t.check(sa.usage.prompt_tokens_details.cached_tokens >= 40,
		`the shared start came from the running slot: ${sa.usage.prompt_tokens_details.cached_tokens} ` +
		`of ${sa.usage.prompt_tokens} cached`);
	const mtext = (await t.http(srv, "GET", "/metrics")).text;
	const cached = Number(/modeld_llm_prompt_cached_tokens_total\{model="tiny"\} (\d+)/.exec(mtext)?.[1]);
	t.check(cached > 20, `modeld_llm_prompt_cached_tokens_total: ${cached}`);
}

// OpenAI request forms: logit_bias (greedy and sampled), content as text
// parts (joined with newlines), the "developer" role as system; fields
// that would change the answer and are not done are refused, not ignored
const biased = await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 5,
	temperature: 0, logit_bias: { 50: 100 } });
t.checkEq(biased.choices[0].text, piece(50).repeat(5), "logit_bias +100 takes every greedy token");
const banned = await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 16,
	temperature: 0, logit_bias: { [refGen[0]]: -100 } });
t.check(banned.choices[0].text !== c.choices[0].text &&
	!banned.choices[0].text.startsWith(piece(refGen[0])), "logit_bias -100 bans the greedy first token");
const topkOff = await client.completions.create({ ...seeded, top_k: -1 });
t.checkEq(topkOff.choices[0].text, (await client.completions.create({ ...seeded, top_k: 0 })).choices[0].text,
	"top_k -1 (vLLM's off) = top_k 0");
const sampledBias = await client.completions.create({ model: "tiny", prompt: "abc", max_tokens: 8,
	temperature: 1.2, seed: 5, logit_bias: { 60: 100 } });
t.checkEq(sampledBias.choices[0].text, piece(60).repeat(8), "logit_bias +100 at temperature");
for (const [bias, what] of [[{ x: 1 }, "not a token id"], [{ 99999: 1 }, "out of the vocabulary"],
	[{ 5: 101 }, "above 100"], [[1, 2], "not an object"]]) {
	e = await apiErr(client.completions.create({ model: "tiny", prompt: "a", max_tokens: 2, logit_bias: bias }));
	t.checkEq([e && e.status, e && e.code], [400, "invalid_request"], `logit_bias ${what}`);
}
const asText = await client.chat.completions.create({ model: "tiny", max_tokens: 12, temperature: 0,
	messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello\nthere" }] });
const asParts = await client.chat.completions.create({ model: "tiny", max_tokens: 12, temperature: 0,
	messages: [{ role: "developer", content: [{ type: "text", text: "Be brief." }] },
		{ role: "user", content: [{ type: "text", text: "Hello" }, { type: "text", text: "there" }] }] });
t.checkEq([asParts.choices[0].message.content, counts(asParts.usage)], [asText.choices[0].message.content,
	counts(asText.usage)], "text parts and the developer role = strings and the system role");
for (const [extra, what, code] of [
	[{ functions: [{ name: "f", parameters: {} }] }, "functions (the old form)", "invalid_request"],
	[{ response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object",
		properties: { a: { type: "string", pattern: "^x" } } } } } }, "a schema with a pattern", "unsupported"],
	[{ response_format: { type: "json_schema", json_schema: { name: "x" } } }, "json_schema without a schema",
		"invalid_request"],
	[{ response_format: { type: "grammar" } }, "response_format grammar", "unsupported"],
	[{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }] },
		"an image part", "invalid_request"],
	[{ messages: [{ role: "user", content: 7 }] }, "a numeric content", "invalid_request"]]) {
	e = await apiErr(client.chat.completions.create({ model: "tiny", messages: msgs, max_tokens: 2, ...extra }));
	t.checkEq([e && e.status, e && e.code], [400, code], `${what} refused`);
}
for (const [extra, what] of [[{ best_of: 3 }, "best_of 3"], [{ suffix: "end" }, "a suffix"]]) {
	e = await apiErr(client.completions.create({ model: "tiny", prompt: "a", max_tokens: 2, ...extra }));
	t.checkEq([e && e.status, e && e.code], [400, "unsupported"], `${what} refused`);
}
t.checkEq((await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 16,
	temperature: 0, best_of: 1, suffix: "" })).choices[0].text, full,
	"best_of 1 and an empty suffix change nothing");
const okExtras = await client.chat.completions.create({ model: "tiny", messages: msgs, max_tokens: 12,
	temperature: 0, tools: [], tool_choice: "none", response_format: { type: "text" } });
t.checkEq(okExtras.choices[0].message.content, chat.choices[0].message.content,
	"empty tools and response_format text change nothing");

// response_format json_object: the output stays one JSON object, judged by
// V8's JSON.parse: a finished answer parses to an object; one cut by
// max_tokens fails to parse only at its very end (a valid start).
const jsonStart = (s) => {
	if (!s.trimStart().startsWith("{"))
		return false;
	try { JSON.parse(s); return true; } catch (err) {
		const at = /at position (\d+)/.exec(err.message);
		return err.message === "Unexpected end of JSON input" || (at !== null && Number(at[1]) === s.length);
	}
};
const isObject = (s) => { try { const v = JSON.parse(s); return v !== null && typeof v === "object" && !Array.isArray(v); } catch { return false; } };
const jq = (seed) => ({ model: "chat", messages: [{ role: "user", content: "Describe a cat as JSON." }],
	response_format: { type: "json_object" }, max_tokens: 96, temperature: 0.8, seed });
const chatMetric = async (name) => Number(new RegExp(`^${name}\\{model="chat"\\} (\\S+)$`, "m")
	.exec((await t.http(srv, "GET", "/metrics")).text)?.[1]);
const json0 = [await chatMetric("modeld_llm_json_tokens_total"), await chatMetric("modeld_llm_json_redraws_total")];
let jsonStops = 0, jsonTokens = 0;
for (let seed = 1; seed <= 6; seed++) {
	const a = await client.chat.completions.create(jq(seed));
	jsonTokens += a.usage.completion_tokens * (seed === 2 ? 2 : 1); /* seed 2 is streamed too */
	const text = a.choices[0].message.content, fin = a.choices[0].finish_reason;
	if (fin === "stop") {
		jsonStops++;
		t.check(isObject(text), `json_object, seed ${seed}: a finished answer is a JSON object: ${JSON.stringify(text)}`);
	} else {
		t.checkEq([fin, a.usage.completion_tokens], ["length", 96], `json_object, seed ${seed}: cut by max_tokens`);
		t.check(jsonStart(text), `json_object, seed ${seed}: a cut answer is the start of an object: ${JSON.stringify(text)}`);
	}
	if (seed === 2) { /* streamed: the same text */
		const parts = [];
		for await (const ch of await client.chat.completions.create({ ...jq(seed), stream: true }))
			parts.push(ch.choices[0]?.delta?.content ?? "");
		t.checkEq(parts.join(""), text, "json_object streamed = not streamed");
	}
}
t.check(jsonStops >= 1, `json_object: ${jsonStops} of 6 answers finished with their object closed`);
// response_format json_schema: finished answers follow the schema (the
// declared properties in its order, the required ones present, each value
// of its type); cut ones are the start of an object
const catSchema = { type: "object", required: ["color", "age", "indoor"], properties: {
	color: { enum: ["black", "white", "tabby"] }, age: { type: "integer", minimum: 0, maximum: 30 },
	indoor: { type: "boolean" },
	toys: { type: "array", items: { type: "string", minLength: 1, maxLength: 3 }, maxItems: 2 },
	nick: { type: ["string", "null"], maxLength: 4 } } };
const chars = (x) => [...x].length; // code points, as JSON Schema counts them
const follows = (v) => {
	const keys = Object.keys(v), order = Object.keys(catSchema.properties);
	return keys.every((k, i) => order.includes(k) && (i === 0 || order.indexOf(keys[i - 1]) < order.indexOf(k)))
		&& catSchema.required.every((k) => k in v) && catSchema.properties.color.enum.includes(v.color)
		&& Number.isInteger(v.age) && v.age >= 0 && v.age <= 30 && typeof v.indoor === "boolean"
		&& (!("toys" in v) || (Array.isArray(v.toys) && v.toys.length <= 2
			&& v.toys.every((x) => typeof x === "string" && chars(x) >= 1 && chars(x) <= 3)))
		&& (!("nick" in v) || v.nick === null || (typeof v.nick === "string" && chars(v.nick) <= 4));
};
let schemaStops = 0;
for (let seed = 1; seed <= 6; seed++) {
	const a = await client.chat.completions.create({ ...jq(seed), response_format: { type: "json_schema",
		json_schema: { name: "cat", strict: true, schema: catSchema } } });
	jsonTokens += a.usage.completion_tokens;
	const text = a.choices[0].message.content, fin = a.choices[0].finish_reason;
	if (fin === "stop") {
		schemaStops++;
		t.check(isObject(text) && follows(JSON.parse(text)), `json_schema, seed ${seed}: follows the schema: ${JSON.stringify(text)}`);
	} else {
		t.check(fin === "length" && jsonStart(text), `json_schema, seed ${seed}: a cut answer is the start of an object: ${JSON.stringify(text)}`);
	}
}
t.check(schemaStops >= 1, `json_schema: ${schemaStops} of 6 answers finished`);
// metrics: every token drawn for JSON output, and those drawn again
const json1 = [await chatMetric("modeld_llm_json_tokens_total"), await chatMetric("modeld_llm_json_redraws_total")];
t.check(json1[0] - json0[0] === jsonTokens && json1[1] - json0[1] > 0 && json1[1] - json0[1] <= jsonTokens,
	`JSON metrics: ${json1[0] - json0[0]} tokens (answers: ${jsonTokens}), ${json1[1] - json0[1]} redrawn`);
// Function calling. A forced call is a call of the tool with arguments of
// its schema, streamed or not; "required" calls one of the tools; Llama 3's
// format too; past calls and their results are taken back as messages.
const weatherTool = { type: "function", function: { name: "get_weather", description: "Weather in a city",
	parameters: { type: "object", properties: { city: { type: "string" }, unit: { enum: ["c", "f"] } },
		required: ["city"] } } };
const addTool = { type: "function", function: { name: "add", parameters: { type: "object",
	properties: { a: { type: "integer" }, b: { type: "integer" } }, required: ["a", "b"] } } };
const toolReq = (model, choice, extra = {}) => ({ model, max_tokens: 400, temperature: 0.7, seed: 3,
	messages: [{ role: "user", content: "What is 2+3?" }], tools: [weatherTool, addTool], tool_choice: choice,
	...extra });
const named = (name) => ({ type: "function", function: { name } });
const callOf = (a) => a.choices[0].message.tool_calls?.[0]?.function;
let a1c = await client.chat.completions.create(toolReq("tools", named("add")));
let fn = callOf(a1c);
t.checkEq([a1c.choices[0].finish_reason, a1c.choices[0].message.content, fn?.name],
	["tool_calls", null, "add"], "tool_choice add: a call of add");
let args = fn ? JSON.parse(fn.arguments) : {};
t.check(Object.keys(args).join() === "a,b" && Number.isInteger(args.a) && Number.isInteger(args.b),
	`add's arguments follow its schema: ${fn?.arguments}`);
// integer bounds in a tool's schema hold in the forced call
const digitTool = { type: "function", function: { name: "add", parameters: { type: "object", required: ["a", "b"],
	properties: { a: { type: "integer", minimum: -3, maximum: 9 }, b: { type: "integer", exclusiveMinimum: 99 } } } } };
for (const seed of [3, 4]) {
	const bounded = callOf(await client.chat.completions.create({ ...toolReq("tools", named("add"), { tools: [digitTool] }),
		seed }));
	const ba = bounded ? JSON.parse(bounded.arguments) : {};
	t.check(Number.isInteger(ba.a) && ba.a >= -3 && ba.a <= 9 && Number.isInteger(ba.b) && ba.b >= 100,
		`bounded arguments, seed ${seed}: ${bounded?.arguments}`);
}
const toolChunks = [];
for await (const ch of await client.chat.completions.create({ ...toolReq("tools", named("add")), stream: true }))
	toolChunks.push(ch);
const streamedCalls = toolChunks.flatMap((ch) => ch.choices[0]?.delta?.tool_calls ?? []);
t.checkEq([streamedCalls.length, streamedCalls[0]?.function?.name, streamedCalls[0]?.function?.arguments,
	toolChunks.at(-1).choices[0].finish_reason], [1, "add", fn?.arguments, "tool_calls"],
	"the streamed call equals the answered one");
// n=2 forced calls, streamed: one tool_calls delta per choice index
const nCalls = [];
for await (const ch of await client.chat.completions.create({ ...toolReq("tools", named("add")), n: 2,
	stream: true }))
	for (const c of ch.choices) for (const tc of c.delta?.tool_calls ?? []) nCalls.push([c.index, tc.function.name]);
t.checkEq(nCalls.sort(), [[0, "add"], [1, "add"]], "n=2 forced calls streamed by index");
const req2 = await client.chat.completions.create(toolReq("tools", "required"));
fn = callOf(req2);
t.check(req2.choices[0].finish_reason === "tool_calls" && ["add", "get_weather"].includes(fn?.name) &&
	typeof JSON.parse(fn.arguments) === "object", `tool_choice required: a call of a tool: ${JSON.stringify(fn)}`);
// city bounded: with a random model and sampling, an open string may run to max_tokens
const weatherShort = { type: "function", function: { ...weatherTool.function, parameters: {
	...weatherTool.function.parameters, properties: { ...weatherTool.function.parameters.properties,
		city: { type: "string", maxLength: 16 } } } } };
const l3 = await client.chat.completions.create(toolReq("tools3", named("get_weather"),
	{ tools: [weatherShort, addTool] }));
fn = callOf(l3);
args = fn ? JSON.parse(fn.arguments) : {};
t.check(l3.choices[0].finish_reason === "tool_calls" && fn?.name === "get_weather" && typeof args.city === "string",
	`Llama 3 format: a call of get_weather: ${JSON.stringify(fn)}`);
const history = [{ role: "user", content: "What is 2+3?" },
	{ role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
		function: { name: "add", arguments: "{\"a\":2,\"b\":3}" } }] },
	{ role: "tool", tool_call_id: "call_1", content: "5" }];
const after = await client.chat.completions.create(toolReq("tools", "auto", { messages: history, max_tokens: 4 }));
const before1 = await client.chat.completions.create(toolReq("tools", "auto", { max_tokens: 4 }));
// byte tokens: the history adds its rendering, a token a byte (a space is
// SentencePiece's U+2581, 3 bytes)
const added = "<|im_start|>assistant\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 2, \"b\": 3}}"
	+ "\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>\n";
t.checkEq(after.usage.prompt_tokens - before1.usage.prompt_tokens,
	Buffer.byteLength(added) + 2 * added.split(" ").length - 2,
	"a past call and its result are rendered in Qwen 2.5's form");
// reals as the template's tojson (Python) writes them: 0.7, not jansson's
// 0.69999999999999996; 1e-05
const realHistory = [history[0], { ...history[1], tool_calls: [{ ...history[1].tool_calls[0],
	function: { name: "add", arguments: "{\"a\":0.7,\"b\":1E-5}" } }] }, history[2]];
const afterReal = await client.chat.completions.create(toolReq("tools", "auto", { messages: realHistory, max_tokens: 4 }));
const addedReal = added.replace("\"a\": 2, \"b\": 3", "\"a\": 0.7, \"b\": 1e-05");
t.checkEq(afterReal.usage.prompt_tokens - before1.usage.prompt_tokens,
	Buffer.byteLength(addedReal) + 2 * addedReal.split(" ").length - 2,
	"a past call's reals are written as Python writes them");
// Mistral Nemo's form: the tools before the last user turn, written by its
// template's rules (strings unescaped, "type" first); calls with 9-character
// ids; no forced calls
const mistralTool = (tl) => `{"type": "function", "function": {${Object.entries(tl.function)
	.map(([k, v]) => `"${k}": ${typeof v === "string" ? `"${v}"` : JSON.stringify(v, null, 1).replace(/\n */g, " ")
		.replace(/\[ /g, "[").replace(/ \]/g, "]").replace(/\{ /g, "{").replace(/ \}/g, "}")}`).join(", ")}}}`;
const mq = (extra) => ({ model: "toolsm", max_tokens: 2, temperature: 0, messages: [{ role: "user", content: "Hi" }],
	...extra });
const mPlain = await client.chat.completions.create(mq({}));
const mTools = await client.chat.completions.create(mq({ tools: [weatherTool, addTool] }));
const block = `[AVAILABLE_TOOLS][${[weatherTool, addTool].map(mistralTool).join(", ")}][/AVAILABLE_TOOLS]`;
t.checkEq(mTools.usage.prompt_tokens - mPlain.usage.prompt_tokens, Buffer.byteLength(block) + 2 * (block.split(" ").length - 1),
	"Mistral: the tools block as its template writes it");
const mHistory = [{ role: "user", content: "2+3?" }, { role: "assistant", content: null, tool_calls: [{ id: "abcDEF123",
	type: "function", function: { name: "add", arguments: "{\"a\":2,\"b\":3}" } }] },
	{ role: "tool", tool_call_id: "abcDEF123", content: "5" }];
const mAfter = await client.chat.completions.create(mq({ tools: [addTool], messages: mHistory }));
t.check(mAfter.usage.prompt_tokens > 0, "Mistral: a past call with a 9-character id and its result are taken");
for (const [q, what, code] of [
	[mq({ tools: [addTool], tool_choice: "required" }), "a required call on Mistral", "unsupported"],
	[mq({ tools: [addTool], messages: [mHistory[0], { ...mHistory[1], tool_calls: [{ ...mHistory[1].tool_calls[0],
		id: "call_1" }] }, { ...mHistory[2], tool_call_id: "call_1" }] }), "a Mistral call id of 6 characters",
		"invalid_request"],
	[toolReq("toolsgemma", "auto"), "tools on a Gemma template", "unsupported"],
	[toolReq("tools", named("mul")), "tool_choice naming an unknown tool", "invalid_request"],
	[toolReq("tools", "required", { response_format: { type: "json_object" } }), "required with response_format",
		"invalid_request"],
	[toolReq("tools", "auto", { tools: [{ type: "function", function: {} }] }), "a tool without a name",
		"invalid_request"],
	[toolReq("tools", "auto", { messages: [history[0], { ...history[1], tool_calls: [{ id: "c", type: "function",
		function: { name: "add", arguments: "not json" } }] }] }), "arguments that are not JSON", "invalid_request"],
	[toolReq("tools", named("add"), { tools: [{ ...addTool, function: { ...addTool.function,
		parameters: { type: "object", properties: { a: { type: "string", pattern: "^x" } } } } }] }),
		"a forced tool whose schema has a pattern", "unsupported"]]) {
	e = await apiErr(client.chat.completions.create(q));
	t.checkEq([e && e.status, e && e.code], [400, code], `${what} refused`);
}

// Reasoning apart: <think> ... </think> as "reasoning_content" (llama.cpp,
// vLLM). Sampling among 'a', ' ', <think> and </think> (logit_bias), seeded:
// each answer read raw (reasoning_format "none") must come back split by
// the rules of server/reasoning.h, whole and streamed.
{
	const wsRe = /^[ \t\n\r]+|[ \t\n\r]+$/g;
	const split = (raw, open) => {
		let s = raw;
		if (!open) {
			s = raw.replace(/^[ \t\n\r]+/, "");
			if (!s.startsWith("<think>")) return { content: raw };
			s = s.slice("<think>".length);
		}
		const at = s.indexOf("</think>");
		return { reasoning: (at < 0 ? s : s.slice(0, at)).replace(wsRe, ""),
			content: at < 0 ? "" : s.slice(at + "</think>".length).replace(/^[ \t\n\r]+/, "") };
	};
	const bias = { 100: 100, 35: 100, 259: 100, 260: 100 };
	const both = { think: 0, thinkc: 0 };
	for (const [model, open] of [["think", true], ["thinkc", false]])
		for (let seed = 1; seed <= 8; seed++) {
			const q = { model, seed, temperature: 1, max_tokens: 24, logit_bias: bias,
				messages: [{ role: "user", content: "Hi" }] };
			const raw = (await client.chat.completions.create({ ...q, reasoning_format: "none" })).choices[0].message;
			const want = split(raw.content, open);
			const gotAll = await client.chat.completions.create(q), got = gotAll.choices[0].message;
			t.checkEq([got.reasoning_content, got.content], [want.reasoning, want.content],
				`${model} seed ${seed}: ${JSON.stringify(raw.content)} split`);
			// the thoughts' tokens: all but those after the first </think> (a tag is one token)
			const n = gotAll.usage.completion_tokens, at = raw.content.indexOf("</think>");
			const after = at < 0 ? 0 : raw.content.slice(at + 8).replace(/<\/?think>/g, "#").length;
			t.checkEq(gotAll.usage.completion_tokens_details.reasoning_tokens,
				want.reasoning === undefined ? 0 : n - after, `${model} seed ${seed}: reasoning_tokens`);
			let r = "", c = "";
			for await (const ch of await client.chat.completions.create({ ...q, stream: true }))
				for (const ck of ch.choices) {
					r += ck.delta.reasoning_content ?? "";
					c += ck.delta.content ?? "";
				}
			t.checkEq([r, c], [want.reasoning ?? "", want.content], `${model} seed ${seed}: streamed split`);
			if (want.reasoning && want.content)
				both[model]++;
		}
	t.check(both.think >= 2 && both.thinkc >= 1, `answers with reasoning and content: ${JSON.stringify(both)}`);
	// the model's setting, the request's choice, output held to JSON
	const q = { seed: 3, temperature: 1, max_tokens: 16, logit_bias: bias, messages: [{ role: "user", content: "Hi" }] };
	const off = (await client.chat.completions.create({ ...q, model: "thinkn" })).choices[0].message;
	const raw = (await client.chat.completions.create({ ...q, model: "think", reasoning_format: "none" })).choices[0].message;
	t.checkEq([off.reasoning_content, off.content], [undefined, raw.content], "reasoning_format = none in the config: raw");
	const on = (await client.chat.completions.create({ ...q, model: "thinkn", reasoning_format: "deepseek" })).choices[0].message;
	t.checkEq([on.reasoning_content, on.content], [split(raw.content, true).reasoning, split(raw.content, true).content],
		"reasoning_format deepseek in the request");
	// (the prompt opened a <think>: split, all of it would be reasoning)
	const jq = { model: "think", max_tokens: 8, temperature: 0, messages: [{ role: "user", content: "Hi" }],
		response_format: { type: "json_object" } };
	const js = (await client.chat.completions.create(jq)).choices[0].message;
	const jsRaw = (await client.chat.completions.create({ ...jq, reasoning_format: "none" })).choices[0].message;
	t.checkEq([js.reasoning_content, js.content], [undefined, jsRaw.content], "JSON output is not split");
	const bad = await apiErr(client.chat.completions.create({ ...q, model: "think", reasoning_format: "r1" }));
	t.checkEq([bad && bad.status, bad && bad.code], [400, "invalid_request"], "an unknown reasoning_format refused");
	const ml = (await t.http(srv, "GET", "/v1/models")).json.models;
	t.checkEq(["think", "thinkn"].map((n) => ml.find((x) => x.name === n).reasoning_format), ["auto", "none"],
		"reasoning_format in the model list");
}

// /v1/embeddings: the final hidden states pooled (mean, first token, last
// token) and normalized, against PyTorch's (tests/fixtures/make_embd_refs.py;
// F32 KV caches, as the reference), through the official client (which asks
// for base64) and as JSON numbers
{
	const er = JSON.parse(fs.readFileSync(path.join(t.srcdir, "tests/fixtures/llama/gqa.embd.json"), "utf8"));
	const far = (a, b) => a.length !== b.length ? Infinity : Math.max(...a.map((x, i) => Math.abs(x - b[i])));
	for (const [model, kind] of [["emb", "mean"], ["embl", "last"], ["embc", "cls"]]) {
		const one = await client.embeddings.create({ model, input: er.prompts });
		t.checkEq([one.object, one.data.map((d) => d.index), one.usage.prompt_tokens],
			["list", [0, 1, 2], er.prompts.reduce((n, p) => n + p.length, 0)], `${model}: shape and usage`);
		const worst = Math.max(...one.data.map((d, i) => far(d.embedding, er[kind][i])));
		t.check(worst < 1e-5, `${model}: ${kind} pooling = PyTorch's (worst difference ${worst})`);
		const plain = (await t.http(srv, "POST", "/v1/embeddings", { model, input: er.prompts[2],
			encoding_format: "float" })).json;
		t.check(far(plain.data[0].embedding, er[kind][2]) < 1e-5 &&
			far(plain.data[0].embedding, one.data[2].embedding) < 1e-7, `${model}: JSON numbers = base64`);
	}
	// a text is embedded as its tokens are
	const ids = (await t.http(srv, "POST", "/tokenize", { model: "emb", prompt: "Hello world" })).json.tokens;
	const [byText, byIds] = await Promise.all([client.embeddings.create({ model: "emb", input: "Hello world" }),
		client.embeddings.create({ model: "emb", input: ids })]);
	t.checkEq(byText.data[0].embedding, byIds.data[0].embedding, "a text is embedded as its token ids");
	// beside a running generation, on the same model and the same steps: both unchanged
	const gq = { model: "emb", prompt: refPrompt, max_tokens: 24, temperature: 0 };
	const alone = (await client.completions.create(gq)).choices[0].text;
	const [gen, emb] = await Promise.all([client.completions.create(gq),
		client.embeddings.create({ model: "emb", input: er.prompts })]);
	t.checkEq(gen.choices[0].text, alone, "a generation beside embeddings answers as alone");
	t.check(Math.max(...emb.data.map((d, i) => far(d.embedding, er.mean[i]))) < 1e-5,
		"embeddings beside a generation are unchanged");
	// a request of many jobs takes turns with later requests: with 2 slots
	// it holds one while another request waits, so a short completion sent
	// once 128 long inputs queue ends before them (first come, first served,
	// it would wait for all 128)
	{
		const many = Array.from({ length: 128 }, (_, i) => Array.from({ length: 120 }, (_, k) => 5 + (i * 7 + k) % 40));
		const order = [];
		const big = client.embeddings.create({ model: "emb", input: many }).then(() => order.push("embeddings"));
		const queued = async () => Number(/^modeld_llm_queued_requests\{model="emb"\} (\S+)$/m
			.exec((await t.http(srv, "GET", "/metrics")).text)[1]);
		for (let i = 0; i < 2000 && order.length === 0 && await queued() === 0; i++)
			await new Promise((r) => setTimeout(r, 2));
		const small = client.completions.create({ model: "emb", prompt: [5, 6], max_tokens: 2, temperature: 0 })
			.then(() => order.push("completion"));
		await Promise.all([big, small]);
		t.checkEq(order, ["completion", "embeddings"], "128 embedding inputs leave a slot to a later request");
	}
	for (const [body, what, code] of [[{ model: "emb", input: [] }, "no input", "invalid_request"],
		[{ model: "emb", input: "" }, "an empty text", "invalid_request"],
		[{ model: "emb", input: [[1, 2], []] }, "an empty input among others", "invalid_request"],
		[{ model: "emb", input: [1, nV] }, "a token id past the vocabulary", "invalid_request"],
		[{ model: "emb", input: "x", encoding_format: "int8" }, "an unknown encoding_format", "invalid_request"],
		[{ model: "emb", input: "x", dimensions: 32 }, "other dimensions", "unsupported"],
		[{ model: "emb", input: Array(300).fill(7) }, "an input past the context", "context_length_exceeded"],
		[{ model: "emb", input: { a: 1 } }, "an object", "invalid_request"]]) {
		const r0 = await t.http(srv, "POST", "/v1/embeddings", body);
		t.checkEq([r0.status, r0.json.error.code], [400, code], `embeddings: ${what} refused`);
	}
	// tokenizer.ggml.add_eos_token: a text ends in EOS (2), as llama.cpp tokenizes it
	const eIds = (await t.http(srv, "POST", "/tokenize", { model: "embe", prompt: "Hi you" })).json.tokens;
	const [eText, eWith] = await Promise.all([client.embeddings.create({ model: "embe", input: "Hi you" }),
		client.embeddings.create({ model: "embe", input: [...eIds, 2] })]);
	t.checkEq([eText.usage.prompt_tokens, eText.data[0].embedding], [eIds.length + 1, eWith.data[0].embedding],
		"add_eos_token: a text is embedded with EOS after it");
	const r404 = await t.http(srv, "POST", "/v1/embeddings", { model: "nosuch", input: "x" });
	t.checkEq(r404.status, 404, "embeddings: an unknown model is 404");
	const ml = (await t.http(srv, "GET", "/v1/models")).json.models;
	t.checkEq(["emb", "embl", "embc"].map((n) => ml.find((x) => x.name === n).pooling), ["mean", "last", "cls"],
		"pooling in the model list");
}

// the completions API and a vocabulary of printable bytes and tokNNN pieces
const jt = await client.completions.create({ model: "tiny", prompt: refPrompt, max_tokens: 60,
	temperature: 0, response_format: { type: "json_object" } });
t.check(jt.choices[0].finish_reason === "stop" ? isObject(jt.choices[0].text) : jsonStart(jt.choices[0].text),
	`json_object on the completions API: ${JSON.stringify(jt.choices[0].text)}`);

r = await t.http(srv, "GET", "/v1/models");
const tiny = r.json.models.find((m) => m.name === "tiny");
t.checkEq([tiny.kind, tiny.context_length, tiny.parallel, tiny.kv_cache_type], ["llm", 256, 4, "f16"],
	"/v1/models entry");
t.checkEq(r.json.models.find((m) => m.name === "one").kv_cache_type, "f32", "kv_cache_type = f32");
t.checkEq(r.json.models.find((m) => m.name === "kq8").kv_cache_type, "q8_0", "kv_cache_type = q8_0");
t.checkEq(["tiny", "nocache"].map((n) => r.json.models.find((m) => m.name === n).prompt_cache),
	[true, false], "prompt_cache in the model list");
{
	// the Q8_0 cache answers the Q4_K_M file's greedy prompts, alone and 2 at a time alike
	const q = (i) => ({ model: "kq8", temperature: 0, max_tokens: 16, prompt: `cache ${i} ` + "ab c".repeat(i + 2) });
	const one = [(await client.completions.create(q(0))).choices[0], (await client.completions.create(q(1))).choices[0]];
	const two = await Promise.all([0, 1].map((i) => client.completions.create(q(i))));
	t.checkEq(two.map((x) => x.choices[0].text), one.map((x) => x.text), "q8_0 KV: concurrent = one at a time");
	t.check(one.every((x) => x.text.length > 0 && x.finish_reason === "length"), "q8_0 KV answers");
}

// /tokenize and /detokenize (llama.cpp's and vLLM's): the tokens the
// completion endpoints read, and the text back as llama.cpp writes it
{
	const tok = async (body) => (await t.http(srv, "POST", "/tokenize", body)).json;
	for (const [model, prompt] of [["chat", "Hello world"], ["tiny", "The quick brown fox"]]) {
		const a = await tok({ model, prompt });
		const c2 = await client.completions.create({ model, prompt, max_tokens: 1, temperature: 0 });
		t.checkEq([a.count, a.tokens.length, a.max_model_len], [c2.usage.prompt_tokens, c2.usage.prompt_tokens, 256],
			`/tokenize ${model}: the tokens /v1/completions reads`);
	}
	const msgs = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi there" }];
	const m1 = await tok({ model: "chat", messages: msgs });
	const c3 = await client.chat.completions.create({ model: "chat", messages: msgs, max_tokens: 1, temperature: 0 });
	t.checkEq(m1.count, c3.usage.prompt_tokens, "/tokenize messages: the tokens /v1/chat/completions reads");
	// SentencePiece text without BOS comes back as it went in; BOS shows
	for (const text of ["Hello world", "  two spaces, then\nlines", "\u00fcn\u00efc\u00f6d\u00e9 \u65e5\u672c\u8a9e \ud83e\udd99"]) {
		const ids = (await tok({ model: "chat", prompt: text, add_special: false })).tokens;
		const d = (await t.http(srv, "POST", "/detokenize", { model: "chat", tokens: ids })).json;
		t.checkEq([d.prompt, d.content], [text, text], `/detokenize(/tokenize(${JSON.stringify(text)}))`);
	}
	const withBos = await tok({ model: "chat", prompt: "Hello world", add_special_tokens: true });
	const d2 = (await t.http(srv, "POST", "/detokenize", { model: "chat", tokens: withBos.tokens })).json;
	t.checkEq(d2.content, "<s> Hello world", "/detokenize renders BOS, keeping the space after it (llama.cpp)");
	const pieces = await tok({ model: "chat", prompt: "Hello world", add_special: false, with_pieces: true });
	t.checkEq(pieces.tokens.map((x) => x.piece).join(""), " Hello world", "with_pieces: the pieces, space prefix included");
	// byte tokens that are not UTF-8 alone come as their bytes, as llama.cpp gives them
	const bp = await tok({ model: "tools", prompt: "\u00e9\u20ac", add_special: false, with_pieces: true });
	const joined = Buffer.concat(bp.tokens.map((x) => Array.isArray(x.piece) ? Buffer.from(x.piece)
		: Buffer.from(x.piece, "utf8")));
	// (this vocabulary has no U+2581 piece: the space prefix falls back to its three bytes too)
	t.check(bp.tokens.some((x) => Array.isArray(x.piece)) && joined.toString("utf8") === "\u2581\u00e9\u20ac",
		`with_pieces: byte pieces as bytes, together the text: ${JSON.stringify(bp.tokens)}`);
	for (const [path, body, status, code, what] of [
		["/detokenize", { model: "chat", tokens: [1, 3072] }, 400, "invalid_request", "a token past the vocabulary"],
		["/detokenize", { model: "chat", tokens: "1 2" }, 400, "invalid_request", "tokens not an array"],
		["/tokenize", { model: "chat" }, 400, "invalid_request", "no prompt"],
		["/tokenize", { model: "chat", prompt: "x", add_special: "yes" }, 400, "invalid_request", "a flag not a boolean"],
		["/tokenize", { prompt: "x" }, 400, "invalid_request", "no model among several language models"],
		["/tokenize", { model: "nope", prompt: "x" }, 404, "model_not_found", "an unknown model"]]) {
		const x = await t.http(srv, "POST", path, body);
		t.checkEq([x.status, x.json?.error?.code], [status, code], `${path}: ${what}`);
	}
	t.checkEq((await t.http(srv, "GET", "/tokenize")).status, 405, "GET /tokenize: 405");
}

// the model list as OpenAI clients read it, our fields kept
const listed = [];
for await (const m of client.models.list()) listed.push(m);
t.checkEq(listed.map((m) => [m.id, m.object, m.owned_by, m.kind]),
	[["tiny", "model", "modeld", "llm"], ["one", "model", "modeld", "llm"],
		["long", "model", "modeld", "llm"], ["chat", "model", "modeld", "llm"],
		["chatin", "model", "modeld", "llm"], ["kqin", "model", "modeld", "llm"],
		["kq", "model", "modeld", "llm"], ["kq8", "model", "modeld", "llm"],
		["nocache", "model", "modeld", "llm"], ["long2", "model", "modeld", "llm"],
		["long2nc", "model", "modeld", "llm"], ["tools", "model", "modeld", "llm"],
		["tools3", "model", "modeld", "llm"], ["toolsgemma", "model", "modeld", "llm"],
		["toolsm", "model", "modeld", "llm"], ["think", "model", "modeld", "llm"],
		["thinkc", "model", "modeld", "llm"], ["thinkn", "model", "modeld", "llm"],
		["emb", "model", "modeld", "llm"], ["embl", "model", "modeld", "llm"], ["embc", "model", "modeld", "llm"],
		["embe", "model", "modeld", "llm"]],
		"models.list()");
t.check(listed.every((m) => Number.isInteger(m.created) && Math.abs(m.created - Date.now() / 1000) < 3600),
	`created: ${listed.map((m) => m.created)}`);
const got = await client.models.retrieve("tiny");
t.checkEq([got.id, got.object, got.owned_by, got.name, got.context_length, got.parallel],
	["tiny", "model", "modeld", "tiny", 256, 4], "models.retrieve()");
e = await apiErr(client.models.retrieve("nope"));
t.checkEq(e && e.status, 404, "models.retrieve() of an unknown model");

// a full queue answers 503 with Retry-After (model "one": 1 slot, 1 waiting)
const burst = await Promise.all(Array.from({ length: 24 }, () => t.http(srv, "POST",
	"/v1/completions", { model: "one", prompt: "q", max_tokens: 240, temperature: 0 })));
const n503 = burst.filter((x) => x.status === 503);
t.check(n503.length >= 1 && burst.every((x) => x.status === 200 || x.status === 503),
	`queue full: statuses ${burst.map((x) => x.status)}`);
t.check(n503.every((x) => x.json.error.code === "queue_full" && x.headers.get("retry-after")),
	"503 body and Retry-After");

// a client that leaves a stream frees its slot (LONG tokens would take
// seconds): the next request is admitted at once
const ac = new AbortController();
r = await fetch(srv.base + "/v1/completions", {
	method: "POST", headers: { "content-type": "application/json" }, signal: ac.signal,
	body: JSON.stringify({ model: "long", prompt: "q", max_tokens: LONG, temperature: 0, stream: true }),
});
const rd = r.body.getReader();
await rd.read();
ac.abort();
let t0 = Date.now();
c = await client.completions.create({ model: "long", prompt: "q", max_tokens: 4, temperature: 0 });
let waited = Date.now() - t0;
t.checkEq([c.usage.completion_tokens, c.choices[0].finish_reason], [4, "length"], "slot reused after disconnect");
t.check(waited < 1500, `admitted at once after the stream left (${waited} ms)`);

// a client that leaves a non-streamed request frees its slot at the next
// step: A runs, B waits for the one slot; both abort, and C is admitted at once
const gauge = (text, name, m) => Number(new RegExp(`^${name}\\{model="${m}"\\} (\\S+)$`, "m").exec(text)?.[1]);
const metric = async (name, m) => gauge((await t.http(srv, "GET", "/metrics")).text, name, m);
const longReq = (signal) => fetch(srv.base + "/v1/completions", {
	method: "POST", headers: { "content-type": "application/json" }, signal,
	body: JSON.stringify({ model: "long", prompt: "q", max_tokens: LONG, temperature: 0 }),
}).catch((x) => x.name);
const acA = new AbortController(), acB = new AbortController();
const pA = longReq(acA.signal);
for (let i = 0; i < 500 && (await metric("modeld_llm_active_slots", "long")) !== 1; i++) await t.sleep(5);
const pB = longReq(acB.signal);
for (let i = 0; i < 500 && (await metric("modeld_llm_queued_requests", "long")) !== 1; i++) await t.sleep(5);
t.checkEq(await metric("modeld_llm_queued_requests", "long"), 1, "B waits for the slot");
acB.abort();
acA.abort();
t.checkEq(await Promise.all([pA, pB]), ["AbortError", "AbortError"], "A and B aborted");
t0 = Date.now();
c = await client.completions.create({ model: "long", prompt: "q", max_tokens: 4, temperature: 0 });
waited = Date.now() - t0;
t.checkEq([c.usage.completion_tokens, c.choices[0].finish_reason], [4, "length"], "C answered");
t.check(waited < 1500, `C admitted at once (${waited} ms)`);
// n=2 on one slot: one choice runs, the other waits; when the client leaves
// both go, and the next request is admitted at once
const acN = new AbortController();
const pN = fetch(srv.base + "/v1/completions", {
	method: "POST", headers: { "content-type": "application/json" }, signal: acN.signal,
	body: JSON.stringify({ model: "long", prompt: "q", max_tokens: LONG, temperature: 0.5, n: 2 }),
}).catch((x) => x.name);
const slotsNow = async () => [await metric("modeld_llm_active_slots", "long"),
	await metric("modeld_llm_queued_requests", "long")];
for (let i = 0; i < 500 && (await slotsNow()).join() !== "1,1"; i++) await t.sleep(5);
t.checkEq(await slotsNow(), [1, 1], "n=2 on one slot: one choice runs, one waits");
acN.abort();
t.checkEq(await pN, "AbortError", "the n=2 request aborted");
t0 = Date.now();
c = await client.completions.create({ model: "long", prompt: "q", max_tokens: 4, temperature: 0 });
waited = Date.now() - t0;
t.check(c.usage.completion_tokens === 4 && waited < 1500, `both choices freed: the next admitted at once (${waited} ms)`);

await t.sleep(100);
const metrics = (await t.http(srv, "GET", "/metrics")).text;
t.checkEq(["one", "tiny", "long", "chat"].map((m) => gauge(metrics, "modeld_llm_active_slots", m)), [0, 0, 0, 0],
	"no active slots left");
t.check(gauge(metrics, "modeld_llm_generated_tokens_total", "tiny") > 100, "generated tokens counted");
t.check(gauge(metrics, "modeld_llm_prompt_cache_kept_tokens", "tiny") > 20 &&
	gauge(metrics, "modeld_llm_prompt_cache_kept_tokens", "nocache") === 0,
	"tokens idle slots keep: tiny > 20, nocache 0");
t.check(/modeld_llm_time_to_first_token_seconds_count\{model="tiny"\} [1-9]/.test(metrics), "TTFT histogram");

// the request log holds token counts, TTFT and finish reasons
await srv.stop();
const rows = t.sql(srv.db, "SELECT endpoint, prompt_tokens, completion_tokens, finish_reason, ttft_ms > 0, " +
	"cached_tokens FROM requests WHERE model = 'tiny' AND status = 200 ORDER BY id LIMIT 2");
t.checkEq(rows, [["/v1/completions", String(nP), "16", "length", "1", "0"],
	["/v1/completions", String(nP), "16", "length", "1", String(nP - 1)]],
	"log rows (the second request, the same prompt, read all but one token from the slot)");
const gone = t.sql(srv.db, `SELECT endpoint, status, error, finish_reason, completion_tokens < ${LONG}, ` +
	"completion_tokens > 0 FROM requests WHERE model = 'long'").map((x) => x.join(" ")).sort();
t.checkEq(gone, ["/v1/completions 200  cancelled 1 1", "/v1/completions 200  length 1 1",
	"/v1/completions 200  length 1 1", "/v1/completions 200  length 1 1",
	"/v1/completions 499 client_closed cancelled 1 0", "/v1/completions 499 client_closed cancelled 1 1",
	"/v1/completions 499 client_closed cancelled 1 1"],
	"log: the stream, A and the n=2 request cut early, B never ran, the requests after them served");
t.checkEq(t.sql(srv.db, "SELECT instances FROM requests WHERE model = 'long' AND status = 499 ORDER BY id DESC " +
	"LIMIT 1"), [["2"]], "the n=2 request logged as 2 instances");
t.checkEq(srv.exitCode, 0, "exit code");

// SIGTERM during two long streams: with a 1 s drain timeout both are cut
// ("length", usage, [DONE]); a request still waiting for a slot gets 503;
// modeld exits 0 with every row logged
const srv2 = await t.start(t.tmpdir(), { drain_timeout_s: 1 }, {
	long: { path: longGguf, parallel: 2, max_queue: 4, ctx_size: 16384 },
});
const streamLong = async (onFirst) => {
	const res = await fetch(srv2.base + "/v1/chat/completions", {
		method: "POST", headers: { "content-type": "application/json" },
		body: JSON.stringify({ model: "long", messages: [{ role: "user", content: "q" }], max_tokens: LONG,
			temperature: 0, stream: true, stream_options: { include_usage: true } }),
	});
	const rd2 = res.body.getReader(), dec = new TextDecoder();
	let text = "";
	for (let first = true; ; first = false) {
		const x = await rd2.read();
		if (x.done) break;
		text += dec.decode(x.value);
		if (first) onFirst();
	}
	return text;
};
let running = 0;
const streams = [streamLong(() => running++), streamLong(() => running++)];
while (running < 2) await t.sleep(5);
const waiting = t.http(srv2, "POST", "/v1/completions", { model: "long", prompt: "q", max_tokens: 5 });
for (let i = 0; i < 500 && gauge((await t.http(srv2, "GET", "/metrics")).text,
	"modeld_llm_queued_requests", "long") !== 1; i++) await t.sleep(5);
const tTerm = Date.now();
srv2.child.kill("SIGTERM");
for (const sse2 of await Promise.all(streams)) {
	const ev = sse2.split("\n\n").filter((x) => x);
	const last = JSON.parse(ev.at(-3).slice(6)), usage = JSON.parse(ev.at(-2).slice(6)).usage;
	t.check(sse2.endsWith("data: [DONE]\n\n") && ev.slice(0, -1).every((x) => JSON.parse(x.slice(6))),
		`cut stream framing: ...${sse2.slice(-300)}`);
	t.checkEq(last.choices[0].finish_reason, "length", "cut stream ends as length");
	t.check(usage.completion_tokens > 0 && usage.completion_tokens < LONG, `cut early: ${JSON.stringify(usage)}`);
}
r = await waiting;
t.checkEq([r.status, r.json.error.code], [503, "draining"], "the waiting request is refused");
t.checkEq(await srv2.exited, 0, "exit 0 after SIGTERM during streams");
t.check(Date.now() - tTerm < 5000, `drained in ${Date.now() - tTerm} ms`);
t.checkEq(t.sql(srv2.db, `SELECT endpoint, status, finish_reason, completion_tokens < ${LONG} FROM requests ` +
	"WHERE model = 'long' ORDER BY status, endpoint"),
	[["/v1/chat/completions", "200", "length", "1"], ["/v1/chat/completions", "200", "length", "1"],
		["/v1/completions", "503", "cancelled", "1"]], "log rows of the drain");
t.finish();
