// Language models through the official OpenAI client: chat, completions and
// streaming against the PyTorch greedy reference of the llama fixture, 8
// concurrent requests equal to the same requests one at a time, stop
// strings, max_tokens and usage, a disconnected stream freeing its slot, a
// full queue (503), a prompt longer than the context (400), metrics and the
// request log's token fields.
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import * as t from "./lib.mjs";

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
const piece = (id) => (id < 3 ? "" : `tok${id}`); // the fixture's vocabulary
const logSoftmax = (v, i) => {
	const m = Math.max(...v);
	return v[i] - m - Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0));
};

const srv = await t.start(dir, {}, {
	tiny: { path: gguf, parallel: 4, max_queue: 16, ctx_size: 256, prompt_chunk: 8 },
	one: { path: gguf, parallel: 1, max_queue: 1, ctx_size: 256 },
});
const client = new OpenAI({ baseURL: srv.base + "/v1", apiKey: "none", maxRetries: 0 });

// greedy completion from token ids equals PyTorch's continuation
let c = await client.completions.create({
	model: "tiny", prompt: refPrompt, max_tokens: 16, temperature: 0, logprobs: 2,
});
t.checkEq(c.object, "text_completion", "completion object");
t.checkEq(c.choices[0].text, refGen.slice(0, 16).map(piece).join(""), "greedy = PyTorch reference");
t.checkEq(c.choices[0].finish_reason, "length", "max_tokens -> length");
t.checkEq(c.usage, { prompt_tokens: nP, completion_tokens: 16, total_tokens: nP + 16 }, "usage");
const lp0 = c.choices[0].logprobs.token_logprobs[0];
t.check(Math.abs(lp0 - logSoftmax(lastLogits, refGen[0])) < 1e-3,
	`first token logprob ${lp0} vs reference ${logSoftmax(lastLogits, refGen[0])}`);
t.checkEq(c.choices[0].logprobs.tokens.slice(0, 3), refGen.slice(0, 3).map(piece), "logprob tokens");
t.checkEq(Object.keys(c.choices[0].logprobs.top_logprobs[0]).length, 2, "top 2 logprobs");

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
t.checkEq(s.usage, chat.usage, "streamed usage");

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
e = await apiErr(client.chat.completions.create({ model: "tiny", messages: msgs, n: 2 }));
t.checkEq(e && e.status, 400, "n=2 refused");
e = await apiErr(client.completions.create({ model: "tiny", prompt: "a", temperature: "hot" }));
t.checkEq(e && e.status, 400, "bad temperature");
e = await apiErr(client.chat.completions.create({ model: "nope", messages: msgs }));
t.checkEq(e && e.status, 404, "unknown model");
r = await t.http(srv, "GET", "/v1/models");
const tiny = r.json.models.find((m) => m.name === "tiny");
t.checkEq([tiny.kind, tiny.context_length, tiny.parallel], ["llm", 256, 4], "/v1/models entry");

// a full queue answers 503 with Retry-After (model "one": 1 slot, 1 waiting)
const burst = await Promise.all(Array.from({ length: 24 }, () => t.http(srv, "POST",
	"/v1/completions", { model: "one", prompt: "q", max_tokens: 240, temperature: 0 })));
const n503 = burst.filter((x) => x.status === 503);
t.check(n503.length >= 1 && burst.every((x) => x.status === 200 || x.status === 503),
	`queue full: statuses ${burst.map((x) => x.status)}`);
t.check(n503.every((x) => x.json.error.code === "queue_full" && x.headers.get("retry-after")),
	"503 body and Retry-After");

// a client that leaves a stream frees its slot: the next request is admitted
const ac = new AbortController();
r = await fetch(srv.base + "/v1/completions", {
	method: "POST", headers: { "content-type": "application/json" }, signal: ac.signal,
	body: JSON.stringify({ model: "one", prompt: "q", max_tokens: 250, temperature: 0, stream: true }),
});
const rd = r.body.getReader();
await rd.read();
ac.abort();
c = await client.completions.create({ model: "one", prompt: refPrompt, max_tokens: 4, temperature: 0 });
t.checkEq(c.choices[0].text, refGen.slice(0, 4).map(piece).join(""), "slot reused after disconnect");
await t.sleep(100);
const metrics = (await t.http(srv, "GET", "/metrics")).text;
const gauge = (name, m) => Number(new RegExp(`^${name}\\{model="${m}"\\} (\\S+)$`, "m").exec(metrics)?.[1]);
t.checkEq([gauge("modeld_llm_active_slots", "one"), gauge("modeld_llm_active_slots", "tiny")], [0, 0],
	"no active slots left");
t.check(gauge("modeld_llm_generated_tokens_total", "tiny") > 100, "generated tokens counted");
t.check(/modeld_llm_time_to_first_token_seconds_count\{model="tiny"\} [1-9]/.test(metrics), "TTFT histogram");

// the request log holds token counts, TTFT and finish reasons
await srv.stop();
const rows = t.sql(srv.db, "SELECT endpoint, prompt_tokens, completion_tokens, finish_reason, ttft_ms > 0 " +
	"FROM requests WHERE model = 'tiny' AND status = 200 ORDER BY id LIMIT 2");
t.checkEq(rows, [["/v1/completions", String(nP), "16", "length", "1"],
	["/v1/completions", String(nP), "16", "length", "1"]], "log rows");
const cancelled = t.sql(srv.db, "SELECT count(*) FROM requests WHERE model = 'one' AND finish_reason = 'cancelled' " +
	"AND completion_tokens < 250");
t.checkEq(cancelled, [["1"]], "the disconnected stream is logged as cancelled early");
t.finish();
