/* modelctl: offline tool over model files: convert ONNX to GGUF, quantize,
 * inspect, predict and benchmark. Exit codes: 0 ok, 1 failure, 2 usage. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "modelctl.h"
#include "mrt.h"
#include "mrt_gguf.h"

#ifdef PACKAGE_VERSION
#define MODELCTL_VERSION PACKAGE_VERSION
#else
#define MODELCTL_VERSION "dev"
#endif

static const char *const TOP_USAGE =
	"usage: modelctl COMMAND [ARGS...]\n"
	"\n"
	"commands:\n"
	"  convert IN.onnx OUT.gguf [--quant f32|f16|q8_0|q4_0] [--no-fuse]\n"
	"          [--pad NAME=ID]... [--exclude-input NAME]\n"
	"                       convert an ONNX model into a graph GGUF file\n"
	"  quantize [--allow-requantize] IN.gguf OUT.gguf TYPE\n"
	"                       re-quantize the weight matrices of a GGUF file\n"
	"  inspect FILE.gguf [--json]\n"
	"                       show metadata, graph inputs/outputs and tensors\n"
	"  predict FILE.gguf [REQUEST.json|-] [--threads N] [--weights expand|native]\n"
	"                       answer one predict request offline\n"
	"  bench FILE.gguf --batch N [--threads T] [--seconds S] [--weights MODE]\n"
	"                       time runs on random inputs\n"
	"\n"
	"`modelctl COMMAND --help` describes a command. Exit status: 0 success,\n"
	"1 failure, 2 wrong usage.\n";

static const char *const CONVERT_USAGE =
	"usage: modelctl convert IN.onnx OUT.gguf [--quant f32|f16|q8_0|q4_0] [--no-fuse]\n"
	"                        [--pad NAME=ID]... [--exclude-input NAME]\n";
static const char *const CONVERT_HELP =
	"\n"
	"Convert an ONNX model into a graph GGUF file that modeld and `modelctl\n"
	"predict` load.\n"
	"  --quant TYPE  type of the weight matrices (default f32); matrices whose\n"
	"                rows do not fit the block size, biases and norms stay f32\n"
	"  --no-fuse     keep LayerNorm/GELU patterns and BatchNorm as separate nodes\n"
	"  --pad NAME=ID the int input NAME [*,-1] takes ragged id lists, padded with ID\n"
	"  --exclude-input NAME\n"
	"                add an optional int64 input NAME [*,-1] of item ids to leave out\n"
	"                of the retrieval (MatMul with the catalog -> TopK, fused)\n";
static const char *const QUANTIZE_USAGE =
	"usage: modelctl quantize [--allow-requantize] IN.gguf OUT.gguf TYPE\n";
static const char *const QUANTIZE_HELP =
	"\n"
	"Re-quantize the weight matrices of a GGUF file (graph or llama model) to\n"
	"TYPE (f32, f16, q8_0, q4_0); other tensors and all metadata are copied.\n"
	"Llama files also take the k-quants q4_k, q5_k, q6_k, and the mixes of\n"
	"llama.cpp's quantize tool q4_k_m and q5_k_m (Q6_K for attn_v and ffn_down in\n"
	"the first and last eighth of the layers and every third between). With a\n"
	"k-quant, output.weight is Q6_K, and matrices whose rows are not a multiple\n"
	"of 256 are Q8_0. A matrix that is already quantized (not F32, F16 or BF16)\n"
	"is not quantized again to another quantized type unless --allow-requantize\n"
	"is given: the errors of both roundings add up (f32 and f16 are fine).\n";

void modelctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("modelctl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int modelctl_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "modelctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return MODELCTL_USAGE;
}

int modelctl_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);

	if (strncmp(arg, name, len) != 0)
		return 0;
	if (arg[len] == '=') {
		*value = arg + len + 1;
		return 1;
	}
	if (arg[len] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

long modelctl_parse_count(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	return v;
}

int modelctl_is_help(const char *s)
{
	return !strcmp(s, "-h") || !strcmp(s, "--help");
}

/* A weight type accepted by convert: f32, f16, q8_0 or q4_0. */
static int convert_quant(const char *name)
{
	int t = mrt_type_from_name(name);

	if (t == MRT_TYPE_F32 || t == MRT_TYPE_F16 || t == MRT_TYPE_Q8_0 || t == MRT_TYPE_Q4_0)
		return t;
	return -1;
}

/* "NAME=ID" into the next pad slot of o; the name is copied into
 * names[slot], which must outlive o. 0 or -1. */
static int convert_pad_opt(convert_options *o, const char *value, char (*names)[256])
{
	const char *eq = strchr(value, '=');
	long long id;
	char *end;

	if (!eq || eq == value || !eq[1] || o->n_pads >= CONVERT_MAX_PADS ||
	    (size_t)(eq - value) >= sizeof(names[0]))
		return -1;
	errno = 0;
	id = strtoll(eq + 1, &end, 10);
	if (errno || *end)
		return -1;
	memcpy(names[o->n_pads], value, (size_t)(eq - value));
	names[o->n_pads][eq - value] = '\0';
	o->pad_names[o->n_pads] = names[o->n_pads];
	o->pad_values[o->n_pads++] = id;
	return 0;
}

static int cmd_convert(int argc, char **argv)
{
	convert_options opt = convert_default_options();
	char pad_names[CONVERT_MAX_PADS][256];
	const char *pos[2], *value;
	char err[512];
	int i, n = 0, r;

	for (i = 1; i < argc; i++) {
		if (modelctl_is_help(argv[i])) {
			printf("%s%s", CONVERT_USAGE, CONVERT_HELP);
			return MODELCTL_OK;
		}
		if ((r = modelctl_opt(argc, argv, &i, "--quant", &value)) != 0) {
			if (r < 0 || (opt.quant = convert_quant(value)) < 0)
				return modelctl_usage_error("convert", CONVERT_USAGE,
							    "--quant takes f32, f16, q8_0 or q4_0");
		} else if (!strcmp(argv[i], "--no-fuse")) {
			opt.fuse = 0;
		} else if ((r = modelctl_opt(argc, argv, &i, "--pad", &value)) != 0) {
			if (r < 0 || convert_pad_opt(&opt, value, pad_names) != 0)
				return modelctl_usage_error("convert", CONVERT_USAGE,
							    "--pad takes NAME=ID (an integer id), "
							    "at most %d times",
							    CONVERT_MAX_PADS);
		} else if ((r = modelctl_opt(argc, argv, &i, "--exclude-input", &value)) != 0) {
			if (r < 0 || !value[0])
				return modelctl_usage_error("convert", CONVERT_USAGE,
							    "--exclude-input takes an input name");
			opt.exclude_input = value;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return modelctl_usage_error("convert", CONVERT_USAGE, "unknown option %s",
						    argv[i]);
		} else if (n < 2) {
			pos[n++] = argv[i];
		} else {
			return modelctl_usage_error("convert", CONVERT_USAGE,
						    "unexpected argument %s", argv[i]);
		}
	}
	if (n != 2)
		return modelctl_usage_error("convert", CONVERT_USAGE, "needs IN.onnx and OUT.gguf");
	if (convert_onnx_file(pos[0], pos[1], &opt, err, sizeof(err)) != 0) {
		modelctl_error("convert %s: %s", pos[0], err);
		return MODELCTL_FAIL;
	}
	return MODELCTL_OK;
}

static int cmd_quantize(int argc, char **argv)
{
	const char *pos[3];
	char err[512];
	int i, n = 0, type, allow = 0;

	for (i = 1; i < argc; i++) {
		if (modelctl_is_help(argv[i])) {
			printf("%s%s", QUANTIZE_USAGE, QUANTIZE_HELP);
			return MODELCTL_OK;
		}
		if (!strcmp(argv[i], "--allow-requantize")) {
			allow = 1;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return modelctl_usage_error("quantize", QUANTIZE_USAGE, "unknown option %s",
						    argv[i]);
		if (n == 3)
			return modelctl_usage_error("quantize", QUANTIZE_USAGE,
						    "unexpected argument %s", argv[i]);
		pos[n++] = argv[i];
	}
	if (n != 3)
		return modelctl_usage_error("quantize", QUANTIZE_USAGE,
					    "needs IN.gguf, OUT.gguf and TYPE");
	type = convert_quant_type(pos[2]);
	if (type < 0)
		return modelctl_usage_error("quantize", QUANTIZE_USAGE,
					    "%s is not a type we can quantize to", pos[2]);
	if (convert_quantize_file(pos[0], pos[1], type, allow, err, sizeof(err)) != 0) {
		modelctl_error("quantize %s: %s", pos[0], err);
		return MODELCTL_FAIL;
	}
	return MODELCTL_OK;
}

static const struct {
	const char *name;
	modelctl_cmd_fn fn;
} COMMANDS[] = {
	{"convert", cmd_convert},     {"quantize", cmd_quantize}, {"inspect", modelctl_inspect},
	{"predict", modelctl_predict}, {"bench", modelctl_bench},
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fputs(TOP_USAGE, stderr);
		return MODELCTL_USAGE;
	}
	if (modelctl_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		fputs(TOP_USAGE, stdout);
		return MODELCTL_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("modelctl %s (kernels: %s)\n", MODELCTL_VERSION, mrt_cpu_features());
		return MODELCTL_OK;
	}
	for (i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
		if (!strcmp(argv[1], COMMANDS[i].name))
			return COMMANDS[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "modelctl: unknown command '%s'\n\n%s", argv[1], TOP_USAGE);
	return MODELCTL_USAGE;
}
