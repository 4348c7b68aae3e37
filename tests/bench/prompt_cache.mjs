// The prompt cache through modeld's HTTP API (not part of make check): time
// to the first token of a growing conversation (prompts of 1200, 1300 and
// 1400 token ids, each the start of the next) and of a request sharing a
// 1000-token start with a request still generating in the other slot, with
// prompt_cache = 1 and with prompt_cache = 0 on the same file.
// Usage: node prompt_cache.mjs MODELD MODEL.gguf  -> a table.
import { startModeld } from "./serve.mjs";

const [modeld, gguf] = process.argv.slice(2);
const model = (name, cache) =>
	`[model ${name}]\npath = ${gguf}\nparallel = 2\nctx_size = 2048\nprompt_cache = ${cache}\n`;
const { base, child } = await startModeld(modeld, "workers = 2\n" + model("cached", 1) + model("plain", 0));

// seconds to the answer of a 1-token completion, and its usage
async function ttft(name, prompt, maxTokens = 1) {
	const t0 = process.hrtime.bigint();
	const r = await fetch(base + "/v1/completions", {
		method: "POST", headers: { "content-type": "application/json" },
		body: JSON.stringify({ model: name, prompt, max_tokens: maxTokens, temperature: 0 }),
	});
	const j = await r.json();
	return { s: Number(process.hrtime.bigint() - t0) / 1e9, usage: j.usage };
}
const ids = (n, seed) => Array.from({ length: n }, (_, i) => 300 + ((seed * 7919 + i * 131) % 30000));

console.log("case                                  prompt  cached   seconds (cache)  seconds (none)");
const conv = ids(1400, 1);
for (const n of [1200, 1300, 1400]) {
	const a = await ttft("cached", conv.slice(0, n)), b = await ttft("plain", conv.slice(0, n));
	console.log(`conversation turn, ${n} tokens`.padEnd(38) + `${a.usage.prompt_tokens}`.padStart(6) +
		`${a.usage.prompt_tokens_details.cached_tokens}`.padStart(8) + a.s.toFixed(3).padStart(17) +
		b.s.toFixed(3).padStart(16));
}
// a 1000-token start shared with a request generating 300 tokens meanwhile
const shared = ids(1000, 2);
for (const [name, col] of [["cached", 0], ["plain", 1]]) {
	const first = ttft(name, [...shared, ...ids(20, 3)], 300);
	await new Promise((r) => setTimeout(r, 3000)); /* the first has read its prompt */
	const b = await ttft(name, [...shared, ...ids(20, 4)]);
	await first;
	console.log(`shared start, first running, ${name}`.padEnd(38) + `${b.usage.prompt_tokens}`.padStart(6) +
		`${b.usage.prompt_tokens_details.cached_tokens}`.padStart(8) +
		(col === 0 ? b.s.toFixed(3).padStart(17) : "".padStart(17) + b.s.toFixed(3).padStart(16)));
}
child.kill("SIGTERM");
