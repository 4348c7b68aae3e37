// /v1/embeddings throughput through modeld's HTTP API beside llama.cpp's
// embeddings (node-llama-cpp, prebuilt CPU backend) on the same GGUF file and
// threads (not part of make check). Inputs: 64 token-id sequences of LEN
// tokens (BOS first). modeld: 4 requests of 16 inputs at once (its slots read them in
// shared steps), pooling = last. llama.cpp: node-llama-cpp's embedding
// context, one input after the other (its API), the last token's hidden
// state. Prints input tokens/s of both (median of 3 rounds), their ratio,
// and the smallest cosine between the two engines' vectors of the same input.
// Usage: node embed_bench.mjs MODELD MODEL.gguf [LEN] [THREADS]
import { startModeld } from "./serve.mjs";

const [modeld, gguf, lenArg, thrArg] = process.argv.slice(2);
const LEN = Number(lenArg || 128), THREADS = Number(thrArg || 2), N = 64;
// BOS first: node-llama-cpp puts one before an input that lacks it
const inputs = Array.from({ length: N }, (_, i) =>
	Array.from({ length: LEN }, (_, k) => (k === 0 ? 1 : 300 + ((i * 977 + k * 131) % 20000))));
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const unit = (v) => {
	const n = Math.hypot(...v);
	return v.map((x) => x / n);
};

const { base, child } = await startModeld(modeld, `workers = ${THREADS}\n[model m]\npath = ${gguf}\n` +
	`parallel = 4\nctx_size = ${LEN + 16}\nprompt_chunk = 512\nmax_queue = 128\npooling = last\n`);
async function embed(batch) {
	const r = await fetch(base + "/v1/embeddings", {
		method: "POST", headers: { "content-type": "application/json" },
		body: JSON.stringify({ model: "m", input: batch }),
	});
	const j = await r.json();
	if (!j.data)
		throw new Error(JSON.stringify(j));
	return j.data.map((d) => d.embedding);
}
await embed(inputs.slice(0, 4)); // warm the page cache
const ours = [];
let vecs = null;
for (let round = 0; round < 3; round++) {
	const t0 = performance.now();
	const parts = await Promise.all([0, 1, 2, 3].map((q) => embed(inputs.slice(16 * q, 16 * q + 16))));
	ours.push((N * LEN) / ((performance.now() - t0) / 1000));
	vecs = parts.flat();
}
child.kill("SIGTERM");

let peer = null, cos = null;
try {
	const { getLlama, LlamaLogLevel } = await import("./llama_peer/node_modules/node-llama-cpp/dist/index.js");
	const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
	const model = await llama.loadModel({ modelPath: gguf, useMmap: true });
	const ctx = await model.createEmbeddingContext({ contextSize: LEN + 16, batchSize: 512, threads: THREADS });
	await ctx.getEmbeddingFor(inputs[0]);
	const rates = [];
	let theirs = [];
	for (let round = 0; round < 3; round++) {
		const t0 = performance.now();
		theirs = [];
		for (const inp of inputs)
			theirs.push(Array.from((await ctx.getEmbeddingFor(inp)).vector));
		rates.push((N * LEN) / ((performance.now() - t0) / 1000));
	}
	peer = median(rates);
	cos = Math.min(...theirs.map((v, i) => {
		const a = unit(v), b = vecs[i];
		return a.reduce((s, x, k) => s + x * b[k], 0);
	}));
} catch (e) {
	console.error(`(llama.cpp peer not available: ${e.message})`);
}
const m = median(ours);
console.log(`${m.toFixed(0).padStart(9)} ${peer ? peer.toFixed(0).padStart(9) : "        -"} ` +
	`${peer ? (m / peer).toFixed(2) + "x" : "-"}  ${cos === null ? "-" : cos.toFixed(6)}`);
