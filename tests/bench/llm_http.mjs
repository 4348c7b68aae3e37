// Aggregate generated tokens/s through modeld's HTTP API with 1, 2, 4 and 8
// concurrent greedy streams on one language model (not part of make check).
// Usage: node llm_http.mjs MODELD MODEL.gguf [TOKENS]  -> one table row.
import http from "node:http";
import { startModeld } from "./serve.mjs";

const [modeld, gguf, tokArg] = process.argv.slice(2);
const TOKENS = Number(tokArg || 64);
const { base, child } = await startModeld(modeld,
	`workers = 2\n[model m]\npath = ${gguf}\nparallel = 8\nctx_size = 256\nmax_queue = 64\n`);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

// One stream: returns generated tokens (from the usage chunk). node:http
// rather than fetch: the client shares the 2 cores with modeld, and fetch
// spent about 240 us of CPU a streamed token here against 190.
function stream(i) {
	const body = JSON.stringify({ model: "m", prompt: [1, 100 + i, 200 + i, 300 + i], max_tokens: TOKENS,
		temperature: 0, stream: true, stream_options: { include_usage: true } });
	return new Promise((resolve, reject) => {
		const req = http.request(base + "/v1/completions", { method: "POST", agent,
			headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
		(res) => {
			const parts = [];
			res.on("data", (d) => parts.push(d));
			res.on("end", () => {
				const usage = Buffer.concat(parts).toString().split("\n\n")
					.filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)))
					.find((c) => c.usage);
				resolve(usage ? usage.usage.completion_tokens : 0);
			});
			res.on("error", reject);
		});
		req.on("error", reject);
		req.end(body);
	});
}

await stream(0); // warm the page cache
const row = [];
for (const n of [1, 2, 4, 8]) {
	const rates = [];
	for (let rep = 0; rep < 3; rep++) {
		const t0 = process.hrtime.bigint();
		const toks = (await Promise.all(Array.from({ length: n }, (_, i) => stream(i)))).reduce((a, b) => a + b, 0);
		rates.push(toks / (Number(process.hrtime.bigint() - t0) / 1e9));
	}
	rates.sort((a, b) => a - b);
	row.push(rates[1]);
}
console.log(row.map((x) => x.toFixed(1).padStart(9)).join(" ") +
	`  x${(row[3] / row[0]).toFixed(2)}`);
agent.destroy();
child.kill("SIGTERM");
