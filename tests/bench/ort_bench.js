// onnxruntime-node peer of `modelctl bench`: time runs of an ONNX file on
// random inputs of its declared shapes and print one line in the same
// format (median time of a run, samples per second).
//
// usage: node ort_bench.js MODEL.onnx --batch N [--threads T] [--seconds S] [--seq L]
'use strict';

const ort = require('onnxruntime-node');

function parseArgs(argv) {
	const o = { model: null, batch: 0, threads: 2, seconds: 3, seq: 16 };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const next = () => {
			if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
			return argv[++i];
		};
		if (a === '--batch') o.batch = parseInt(next(), 10);
		else if (a === '--threads') o.threads = parseInt(next(), 10);
		else if (a === '--seconds') o.seconds = parseFloat(next());
		else if (a === '--seq') o.seq = parseInt(next(), 10);
		else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
		else if (!o.model) o.model = a;
		else throw new Error(`unexpected argument ${a}`);
	}
	if (!o.model || !(o.batch >= 1) || !(o.threads >= 1) || !(o.seconds > 0))
		throw new Error('usage: node ort_bench.js MODEL.onnx --batch N [--threads T] [--seconds S]');
	return o;
}

// xorshift64, the same generator modelctl bench uses for float inputs.
function makeRandom() {
	let s = 0x2545f4914f6cdd1dn;
	const mask = (1n << 64n) - 1n;
	return () => {
		s ^= (s << 13n) & mask;
		s ^= s >> 7n;
		s ^= (s << 17n) & mask;
		return Number(s >> 40n) / (1 << 23) - 1.0;
	};
}

// Random feeds for the session's inputs: dim 0 is the batch, other
// symbolic dims take seq; integer inputs get 0.
function makeFeeds(session, o) {
	const rand = makeRandom();
	const feeds = {};
	for (const meta of session.inputMetadata) {
		const dims = meta.shape.map((d, i) => (i === 0 ? o.batch : typeof d === 'number' && d >= 0 ? d : o.seq));
		const n = dims.reduce((a, b) => a * b, 1);
		let data;
		if (meta.type === 'float32') {
			data = new Float32Array(n);
			for (let k = 0; k < n; k++) data[k] = rand();
		} else if (meta.type === 'int64') {
			data = new BigInt64Array(n);
		} else if (meta.type === 'int32') {
			data = new Int32Array(n);
		} else {
			throw new Error(`input ${meta.name}: type ${meta.type} not handled`);
		}
		feeds[meta.name] = new ort.Tensor(meta.type, data, dims);
	}
	return feeds;
}

async function main() {
	const o = parseArgs(process.argv.slice(2));
	const session = await ort.InferenceSession.create(o.model, {
		intraOpNumThreads: o.threads,
		interOpNumThreads: 1,
		executionMode: 'sequential',
		graphOptimizationLevel: 'all',
	});
	const feeds = makeFeeds(session, o);
	await session.run(feeds); // warm-up
	const times = [];
	const start = process.hrtime.bigint();
	const limit = BigInt(Math.round(o.seconds * 1e9));
	while (times.length < 5 || process.hrtime.bigint() - start < limit) {
		const t0 = process.hrtime.bigint();
		await session.run(feeds);
		times.push(Number(process.hrtime.bigint() - t0) / 1e9);
	}
	times.sort((a, b) => a - b);
	const n = times.length;
	const median = n % 2 ? times[(n - 1) / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
	console.log(
		`ort ${o.model}: batch=${o.batch} threads=${o.threads} runs=${n} ` +
			`ms_per_run=${(median * 1e3).toFixed(4)} samples_per_s=${(o.batch / median).toFixed(1)} ` +
			`onnxruntime=${ort.env.versions.node}`,
	);
}

main().catch((e) => {
	console.error(`ort_bench: ${e.message}`);
	process.exit(1);
});
