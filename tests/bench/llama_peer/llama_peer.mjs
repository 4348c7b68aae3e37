// The llama.cpp peer of bench_llama: the same GGUF file through
// node-llama-cpp (llama.cpp's CPU backend, prebuilt with runtime CPU
// dispatch). Prints one line in bench_llama's `run` format:
//   FILE prompt/s dec1/s agg2/s agg4/s agg8/s
// prompt/s: a 512-token prompt in one batch; dec1: one stream, greedy, after a
// 16-token prompt; aggN: N sequences of one context decoding at once (llama.cpp
// puts their tokens in one batch per step). Each figure is the median of
// ROUNDS rounds. Usage: node llama_peer.mjs FILE [THREADS] [STEPS] [ROUNDS]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [, , file, threadsArg = "2", stepsArg = "32", roundsArg = "3"] = process.argv;
if (!file) {
	console.error("usage: node llama_peer.mjs FILE [THREADS] [STEPS] [ROUNDS]");
	process.exit(2);
}
const threads = Number(threadsArg), steps = Number(stepsArg), rounds = Number(roundsArg);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: file, useMmap: true});
const ctx = await model.createContext({
	sequences: 8,
	contextSize: 8 * 1024,
	batchSize: 512,
	threads,
});
const all = Array.from({length: 8}, () => ctx.getSequence());
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const prompt = (seed, n) => Array.from({length: n}, (_, i) => 300 + ((seed * 977 + i * 131) % 20000));

// Decode `steps` tokens after the prompt on each of n sequences at once;
// returns generated tokens/s over the steps after the first token.
async function decode(n, round) {
	const seqs = all.slice(0, n);
	for (const s of seqs)
		await s.clearHistory();
	let started = 0, t0 = 0, made = 0;
	const run = async (seq, i) => {
		let k = 0;
		for await (const _ of seq.evaluate(prompt(round * 8 + i, 16), {temperature: 0})) {
			if (++k === 1 && ++started === n)
				t0 = performance.now();
			if (k > steps)
				break;
		}
		made += Math.max(k - 1, 0); // the tokens after the first, counted as made
	};
	await Promise.all(seqs.map(run));
	return made / ((performance.now() - t0) / 1000);
}

async function promptRate(round) {
	await all[0].clearHistory();
	const t0 = performance.now();
	await all[0].evaluateWithoutGeneratingNewTokens(prompt(round, 512));
	return 512 / ((performance.now() - t0) / 1000);
}

await decode(1, 99); // warm-up: page in the weights
const res = {p: [], 1: [], 2: [], 4: [], 8: []};
for (let r = 0; r < rounds; r++) {
	res.p.push(await promptRate(r));
	for (const n of [1, 2, 4, 8])
		res[n].push(await decode(n, r));
}
const f = (v) => v.toFixed(1);
console.log(`${file} ${f(median(res.p))} ${f(median(res[1]))} ${f(median(res[2]))} ${f(median(res[4]))} ${f(median(res[8]))}`);
await ctx.dispose();
await model.dispose();
