/* json_compare: compare a predict answer with the expected answer.
 * Float outputs pass when max |got - ref| / scale <= tol, scale being the
 * output's max |ref| (1 when that is 0); integer outputs (JSON integers in
 * the expected answer, e.g. TopK indices) must match exactly.
 * Exit 0 pass, 1 mismatch, 2 usage or unreadable input. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Running comparison of one output. */
typedef struct cmp_stats {
	double max_abs;   /* largest |got - ref| over float leaves */
	double max_ref;   /* largest |ref| over float leaves */
	long n_float;     /* float leaves compared */
	long n_int;       /* integer leaves compared */
	long n_int_diff;  /* integer leaves that differ */
	char where[256];  /* first structural mismatch, "" when none */
} cmp_stats;

typedef struct cmp_options {
	double tol;
	int ints_exact; /* 1: differing integers fail; 0: only reported */
} cmp_options;

static void cmp_path_note(cmp_stats *st, const char *path, const char *what)
{
	if (st->where[0] == '\0')
		snprintf(st->where, sizeof(st->where), "%s: %s", path[0] ? path : "(top)", what);
}

/* Walk ref and got in parallel, path names the current element for messages.
 * Records the first structural difference (length, kind) in st->where. */
static void cmp_walk(const json_t *ref, const json_t *got, char *path, size_t pathlen,
		     cmp_stats *st)
{
	if (json_is_array(ref)) {
		size_t n = json_array_size(ref), len = strlen(path);
		if (!json_is_array(got)) {
			cmp_path_note(st, path, "expected a list");
			return;
		}
		if (json_array_size(got) != n) {
			char msg[64];
			snprintf(msg, sizeof(msg), "expected %zu entries, got %zu", n,
				 json_array_size(got));
			cmp_path_note(st, path, msg);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(path + len, pathlen - len, "[%zu]", i);
			cmp_walk(json_array_get(ref, i), json_array_get(got, i), path, pathlen,
				 st);
		}
		path[len] = '\0';
	} else if (json_is_integer(ref)) {
		st->n_int++;
		if (!json_is_integer(got)) {
			cmp_path_note(st, path, "expected an integer");
			return;
		}
		if (json_integer_value(got) != json_integer_value(ref))
			st->n_int_diff++;
	} else if (json_is_real(ref)) {
		double r = json_real_value(ref), d;
		if (!json_is_number(got)) {
			cmp_path_note(st, path, "expected a number");
			return;
		}
		st->n_float++;
		d = fabs(json_number_value(got) - r);
		if (isnan(d))
			d = INFINITY;
		if (d > st->max_abs)
			st->max_abs = d;
		if (fabs(r) > st->max_ref)
			st->max_ref = fabs(r);
	} else {
		cmp_path_note(st, path, "unexpected value in the expected answer");
	}
}

/* Compare one output; print one line; return 1 when it passes. */
static int cmp_output(const char *name, const json_t *ref, const json_t *got,
		      const cmp_options *opt, double *rel_out)
{
	cmp_stats st;
	char path[256] = "";
	double scale, rel;
	int ok;

	memset(&st, 0, sizeof(st));
	if (!got) {
		printf("output %s: missing from the answer FAIL\n", name);
		*rel_out = INFINITY;
		return 0;
	}
	cmp_walk(ref, got, path, sizeof(path), &st);
	if (st.where[0]) {
		printf("output %s: shape differs at %s FAIL\n", name, st.where);
		*rel_out = INFINITY;
		return 0;
	}
	scale = st.max_ref > 0 ? st.max_ref : 1.0;
	rel = st.max_abs / scale;
	ok = rel <= opt->tol;
	if (st.n_float)
		printf("output %s: %ld floats, max_abs %.3g, scale %.3g, rel %.3g (tol %.3g)\n",
		       name, st.n_float, st.max_abs, scale, rel, opt->tol);
	if (st.n_int) {
		printf("output %s: %ld integers, %ld differ%s\n", name, st.n_int, st.n_int_diff,
		       opt->ints_exact ? "" : " (reported only)");
		if (opt->ints_exact && st.n_int_diff)
			ok = 0;
	}
	*rel_out = st.n_float ? rel : 0;
	return ok;
}

/* The "outputs" (or "predictions") member of an answer, or NULL. */
static json_t *answer_outputs(json_t *doc)
{
	json_t *o = json_object_get(doc, "outputs");
	return o ? o : json_object_get(doc, "predictions");
}

static json_t *load(const char *path)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	if (!doc)
		fprintf(stderr, "json_compare: %s:%d: %s\n", path, jerr.line, jerr.text);
	return doc;
}

static int usage(void)
{
	fprintf(stderr, "usage: json_compare GOT.json EXPECTED.json [--tol T] "
			"[--ints exact|report]\n");
	return 2;
}

static int parse_args(int argc, char **argv, cmp_options *opt)
{
	opt->tol = 1e-4;
	opt->ints_exact = 1;
	for (int i = 3; i < argc; i++) {
		char *end;
		if (!strcmp(argv[i], "--tol") && i + 1 < argc) {
			opt->tol = strtod(argv[++i], &end);
			if (*end || !(opt->tol >= 0))
				return -1;
		} else if (!strcmp(argv[i], "--ints") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "exact"))
				opt->ints_exact = 1;
			else if (!strcmp(argv[i], "report"))
				opt->ints_exact = 0;
			else
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Compare every output of ref_out with got_out; returns 0 pass, 1 fail. */
static int cmp_all(json_t *ref_out, json_t *got_out, const cmp_options *opt)
{
	double rel, worst = 0;
	int ok = 1;

	if (json_is_object(ref_out)) {
		const char *name;
		json_t *r;
		if (!json_is_object(got_out)) {
			printf("answer has a list where an object of outputs was expected FAIL\n");
			return 1;
		}
		json_object_foreach(ref_out, name, r)
		{
			ok &= cmp_output(name, r, json_object_get(got_out, name), opt, &rel);
			worst = fmax(worst, rel);
		}
	} else {
		ok = cmp_output("outputs", ref_out, got_out, opt, &rel);
		worst = rel;
	}
	printf("max_rel_err %.3g tol %.3g %s\n", worst, opt->tol, ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	cmp_options opt;
	json_t *got = NULL, *ref = NULL, *ref_out, *got_out;
	int rc = 2;

	if (argc < 3 || parse_args(argc, argv, &opt) < 0)
		return usage();
	got = load(argv[1]);
	if (!got)
		goto out;
	ref = load(argv[2]);
	if (!ref)
		goto out;
	ref_out = answer_outputs(ref);
	if (!ref_out) {
		fprintf(stderr, "json_compare: %s has no \"outputs\"\n", argv[2]);
		goto out;
	}
	got_out = answer_outputs(got);
	if (!got_out) {
		char *s = json_dumps(got, JSON_COMPACT);
		printf("answer has no outputs: %.300s FAIL\n", s ? s : "?");
		free(s);
		rc = 1;
		goto out;
	}
	rc = cmp_all(ref_out, got_out, &opt);
out:
	json_decref(ref);
	json_decref(got);
	return rc;
}
