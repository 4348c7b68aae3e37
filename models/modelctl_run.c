/* `modelctl predict` (one request offline, answered exactly as the daemon's
 * codec answers) and `modelctl bench` (timed runs on random inputs). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "graph.h"
#include "modelctl.h"
#include "mrt.h"
#include "mrt_gguf.h"

static const char *const PREDICT_USAGE =
	"usage: modelctl predict FILE.gguf [REQUEST.json|-] [--threads N] "
	"[--weights expand|native]\n";
static const char *const PREDICT_HELP =
	"\n"
	"Answer one POST /v1/predict body offline. The request is read from\n"
	"REQUEST.json, or from standard input when it is omitted or '-'. The answer\n"
	"is the daemon's body, {\"model\": NAME, \"outputs\": ...}, on one line; NAME is\n"
	"the file name without .gguf (the daemon uses the model's configured name).\n"
	"A refused request prints \"modelctl: error: CODE: message\" on standard error\n"
	"(the code and message the daemon sends in its error body) and exits 1.\n"
	"  --threads N   threads for the run (default 1)\n"
	"  --weights M   native (default): quantized kernels read the file's blocks;\n"
	"                expand: dequantize the weights to f32 at load\n";
static const char *const BENCH_USAGE =
	"usage: modelctl bench FILE.gguf --batch N [--threads T] [--seconds S] "
	"[--seq L] [--weights expand|native]\n";
static const char *const BENCH_HELP =
	"\n"
	"Run the model on random inputs of the declared shapes with batch size N\n"
	"(other free dimensions take L, default 16) for about S seconds (default 3,\n"
	"at least 5 runs after one warm-up run) and print one line with the median\n"
	"time of a run and the samples per second it gives. Float inputs are\n"
	"uniform in [-1, 1); integer inputs feeding a Gather take ids within its\n"
	"table, others 0.\n";

#define MAX_BATCH 1000000L
#define MAX_THREADS 256L

/* Options shared by predict and bench. */
typedef struct run_opts {
	const char *model_path;
	const char *request_path;
	int threads;
	int weights_mode;
	long batch, seq;
	double seconds;
} run_opts;

/* Scan argv into *o; returns MODELCTL_OK, MODELCTL_USAGE (message printed) or
 * -1 after printing help. bench selects the bench options. */
static int parse_opts(int argc, char **argv, int bench, run_opts *o)
{
	const char *cmd = bench ? "bench" : "predict";
	const char *usage = bench ? BENCH_USAGE : PREDICT_USAGE;
	const char *value;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (modelctl_is_help(argv[i])) {
			printf("%s%s", usage, bench ? BENCH_HELP : PREDICT_HELP);
			return -1;
		}
		if ((r = modelctl_opt(argc, argv, &i, "--threads", &value)) != 0) {
			if (r < 0 ||
			    (o->threads = (int)modelctl_parse_count(value, MAX_THREADS)) < 0)
				return modelctl_usage_error(cmd, usage,
							    "--threads takes a count from 1 to %ld",
							    MAX_THREADS);
		} else if ((r = modelctl_opt(argc, argv, &i, "--weights", &value)) != 0) {
			if (r > 0 && !strcmp(value, "native"))
				o->weights_mode = MRT_WEIGHTS_NATIVE;
			else if (r > 0 && !strcmp(value, "expand"))
				o->weights_mode = MRT_WEIGHTS_EXPAND;
			else
				return modelctl_usage_error(cmd, usage,
							    "--weights takes native or expand");
		} else if (bench && (r = modelctl_opt(argc, argv, &i, "--batch", &value)) != 0) {
			if (r < 0 || (o->batch = modelctl_parse_count(value, MAX_BATCH)) < 0)
				return modelctl_usage_error(
				    cmd, usage, "--batch takes a count from 1 to %ld", MAX_BATCH);
		} else if (bench && (r = modelctl_opt(argc, argv, &i, "--seq", &value)) != 0) {
			if (r < 0 || (o->seq = modelctl_parse_count(value, 65536)) < 0)
				return modelctl_usage_error(cmd, usage,
							    "--seq takes a count from 1 to 65536");
		} else if (bench && (r = modelctl_opt(argc, argv, &i, "--seconds", &value)) != 0) {
			char *end;
			o->seconds = r > 0 ? strtod(value, &end) : -1;
			if (r < 0 || *end || !(o->seconds > 0 && o->seconds <= 3600))
				return modelctl_usage_error(
				    cmd, usage, "--seconds takes a number in (0, 3600]");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return modelctl_usage_error(cmd, usage, "unknown option %s", argv[i]);
		} else if (!o->model_path) {
			o->model_path = argv[i];
		} else if (!bench && !o->request_path) {
			o->request_path = argv[i];
		} else {
			return modelctl_usage_error(cmd, usage, "unexpected argument %s", argv[i]);
		}
	}
	if (!o->model_path)
		return modelctl_usage_error(cmd, usage, "needs FILE.gguf");
	if (bench && o->batch < 1)
		return modelctl_usage_error(cmd, usage, "needs --batch N");
	return MODELCTL_OK;
}

static mrt_model *load_graph_model(const run_opts *o)
{
	mrt_model_params mp = mrt_model_default_params();
	char err[512];
	mrt_model *m;

	mp.weights_mode = o->weights_mode;
	if (!(m = mrt_model_load(o->model_path, &mp, err, sizeof(err)))) {
		modelctl_error("%s: %s", o->model_path, err);
		return NULL;
	}
	if (mrt_model_kind(m) != MRT_MODEL_GRAPH) {
		modelctl_error("%s: a language model: use the daemon's completion endpoints",
			       o->model_path);
		mrt_model_free(m);
		return NULL;
	}
	return m;
}

static mrt_ctx *new_ctx(const mrt_model *m, const run_opts *o)
{
	mrt_ctx_params cp = mrt_ctx_default_params();
	char err[512];
	mrt_ctx *ctx;

	cp.n_threads = o->threads;
	if (!(ctx = mrt_ctx_new(m, &cp, err, sizeof(err))))
		modelctl_error("%s: %s", o->model_path, err);
	return ctx;
}

/* "dir/name.gguf" -> "name" (new string). */
static char *model_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;
	char *name;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".gguf"))
		len -= 5;
	if ((name = malloc(len + 1))) {
		memcpy(name, base, len);
		name[len] = '\0';
	}
	return name;
}

static json_t *read_request(const char *path)
{
	int from_stdin = !path || !strcmp(path, "-");
	FILE *f = from_stdin ? stdin : fopen(path, "rb");
	json_error_t jerr;
	json_t *body;

	if (!f) {
		modelctl_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	body = json_loadf(f, 0, &jerr);
	if (!from_stdin)
		fclose(f);
	if (!body)
		modelctl_error("invalid_json: line %d, column %d: %s", jerr.line, jerr.column,
			       jerr.text);
	return body;
}

int modelctl_predict(int argc, char **argv)
{
	run_opts o = {NULL, NULL, 1, MRT_WEIGHTS_NATIVE, 0, 16, 3.0};
	codec_inputs in = {0};
	json_t *body = NULL;
	mrt_model *m = NULL;
	mrt_ctx *ctx = NULL;
	mrt_tensor *outs = NULL;
	char *name = NULL, *answer = NULL, err[512];
	codec_error e;
	int rc = MODELCTL_FAIL, st;

	if ((st = parse_opts(argc, argv, 0, &o)) != MODELCTL_OK)
		return st < 0 ? MODELCTL_OK : st;
	if (!(m = load_graph_model(&o)))
		goto done;
	if (!(body = read_request(o.request_path)))
		goto done;
	if (codec_parse_predict(m, body, &in, &e) != 0)
		goto refused;
	if (!(ctx = new_ctx(m, &o)))
		goto done;
	outs = calloc((size_t)mrt_model_n_outputs(m), sizeof(*outs));
	if (!outs) {
		modelctl_error("out of memory");
		goto done;
	}
	err[0] = '\0';
	if ((st = mrt_run(ctx, in.n, in.t, outs, err, sizeof(err))) != 0) {
		codec_fail_run(&e, st, err);
		goto refused;
	}
	name = model_name(o.model_path);
	answer =
	    codec_predict_body(name, codec_outputs_json_k(m, outs, 0, in.batch, in.k), in.used_instances);
	if (!answer) {
		modelctl_error("out of memory writing the answer");
		goto done;
	}
	printf("%s\n", answer);
	rc = fflush(stdout) == 0 ? MODELCTL_OK : MODELCTL_FAIL;
	goto done;
refused:
	modelctl_error("%s: %s", e.code, e.message);
done:
	free(answer);
	free(name);
	free(outs);
	codec_inputs_free(&in);
	mrt_ctx_free(ctx);
	json_decref(body);
	mrt_model_free(m);
	return rc;
}

/* Size of the table a Gather node indexes with input `name`, or 0 when no
 * Gather reads it from a constant table. */
static int64_t id_range(const char *path, const char *name)
{
	char err[256];
	mrt_gguf *g = mrt_gguf_open(path, err, sizeof(err));
	mrt__graph *graph = g ? mrt__graph_read(g, err, sizeof(err)) : NULL;
	int64_t range = 0;
	int i, c;

	for (i = 0; graph && i < graph->n_nodes && !range; i++) {
		const mrt__node *n = &graph->nodes[i];
		const mrt__attr *axis = mrt__node_attr(n, "axis");
		if (strcmp(n->op, "Gather") || n->n_in < 2 || strcmp(n->in[1], name))
			continue;
		for (c = 0; c < graph->n_consts; c++) {
			const mrt__const *k = &graph->consts[c];
			int64_t a = axis ? axis->i : 0;
			if (strcmp(k->name, n->in[0]))
				continue;
			if (a < 0)
				a += k->ndim;
			if (a >= 0 && a < k->ndim)
				range = k->dims[a];
		}
	}
	mrt__graph_free(graph);
	mrt_gguf_close(g);
	return range;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random inputs of the declared shapes with the given batch (free
 * dimensions past the first take seq). Fills in (OUT); 0 or -1. */
static int random_inputs(const mrt_model *m, const run_opts *o, codec_inputs *in)
{
	uint64_t seed = 0x2545f4914f6cdd1du;
	int i, d;

	in->n = mrt_model_n_inputs(m);
	in->batch = o->batch;
	if (!(in->t = calloc((size_t)in->n, sizeof(*in->t))))
		return -1;
	for (i = 0; i < in->n; i++) {
		mrt_io_info info;
		mrt_tensor *t = &in->t[i];
		int64_t elems = 1, k, range = 0;
		size_t bytes;
		if (mrt_model_input(m, i, &info) != 0 || info.ndim < 1)
			return -1;
		t->name = info.name;
		t->dtype = info.dtype;
		t->ndim = info.ndim;
		for (d = 0; d < info.ndim; d++) {
			t->dims[d] = d == 0 ? o->batch : info.dims[d] < 0 ? o->seq : info.dims[d];
			if (__builtin_mul_overflow(elems, t->dims[d], &elems))
				return -1;
		}
		if (__builtin_mul_overflow((size_t)elems, mrt_dtype_size(info.dtype), &bytes) ||
		    !(t->data = malloc(bytes ? bytes : 1)))
			return -1;
		if (info.dtype != MRT_DTYPE_F32)
			range = id_range(o->model_path, info.name);
		for (k = 0; k < elems; k++) {
			uint64_t r = next_rand(&seed);
			if (info.dtype == MRT_DTYPE_F32)
				((float *)t->data)[k] = (float)(r >> 40) / (float)(1 << 23) - 1.0f;
			else if (info.dtype == MRT_DTYPE_I64)
				((int64_t *)t->data)[k] = range > 0 ? (int64_t)(r % range) : 0;
			else
				((int32_t *)t->data)[k] = range > 0 ? (int32_t)(r % range) : 0;
		}
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Time runs until o->seconds passed (at least 5); *median (OUT) in seconds. */
static int time_runs(mrt_ctx *ctx, const codec_inputs *in, mrt_tensor *outs, const run_opts *o,
		     double *median, int *runs)
{
	enum { MAX_RUNS = 1000000 };
	double *t = NULL, start, t0;
	size_t cap = 0;
	char err[512];
	int n = 0, st;

	if ((st = mrt_run(ctx, in->n, in->t, outs, err, sizeof(err))) != 0) /* warm-up */
		goto fail;
	start = now_s();
	while (n < MAX_RUNS && (n < 5 || now_s() - start < o->seconds)) {
		if ((size_t)n == cap) {
			double *g = realloc(t, (cap = cap ? cap * 2 : 256) * sizeof(*t));
			if (!g) {
				free(t);
				modelctl_error("out of memory");
				return -1;
			}
			t = g;
		}
		t0 = now_s();
		if ((st = mrt_run(ctx, in->n, in->t, outs, err, sizeof(err))) != 0)
			goto fail;
		t[n++] = now_s() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	*median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
	*runs = n;
	free(t);
	return 0;
fail:
	free(t);
	modelctl_error("run failed: %s: %s", mrt_strerror(st), err);
	return -1;
}

int modelctl_bench(int argc, char **argv)
{
	run_opts o = {NULL, NULL, 1, MRT_WEIGHTS_NATIVE, 0, 16, 3.0};
	codec_inputs in = {0};
	mrt_model *m = NULL;
	mrt_ctx *ctx = NULL;
	mrt_tensor *outs = NULL;
	double median;
	int rc = MODELCTL_FAIL, st, runs;

	if ((st = parse_opts(argc, argv, 1, &o)) != MODELCTL_OK)
		return st < 0 ? MODELCTL_OK : st;
	if (!(m = load_graph_model(&o)) || !(ctx = new_ctx(m, &o)))
		goto done;
	if (random_inputs(m, &o, &in) != 0 ||
	    !(outs = calloc((size_t)mrt_model_n_outputs(m), sizeof(*outs)))) {
		modelctl_error("cannot make inputs of batch %ld", o.batch);
		goto done;
	}
	if (time_runs(ctx, &in, outs, &o, &median, &runs) != 0)
		goto done;
	printf("bench %s: batch=%ld threads=%d weights=%s runs=%d ms_per_run=%.4f "
	       "samples_per_s=%.1f kernels=%s\n",
	       o.model_path, o.batch, o.threads,
	       o.weights_mode == MRT_WEIGHTS_EXPAND ? "expand" : "native", runs, median * 1e3,
	       (double)o.batch / median, mrt_cpu_features());
	rc = MODELCTL_OK;
done:
	free(outs);
	codec_inputs_free(&in);
	mrt_ctx_free(ctx);
	mrt_model_free(m);
	return rc;
}
