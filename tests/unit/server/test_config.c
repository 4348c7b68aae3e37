/* Configuration (server/config.c): every setting's parsing and bounds from a
 * file, errors naming the file, line and key, sections, comments, whitespace,
 * the command-line overrides in the order modeld applies them, and the
 * shipped etc/modeld.conf: it parses and its values are the built-in defaults. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "srv_config.h"
#include "test.h"

/* The expected table, written from the documentation of each key: name,
 * bounds and default. A change in config.c's table must change this one. */
typedef struct want_key {
	const char *name;
	int is_str;
	int64_t min, max, deflt;
	size_t offset;
} want_key;

#define GI(n, lo, hi, d) {#n, 0, lo, hi, d, offsetof(srv_config, n)}
#define MI(n, lo, hi, d) {#n, 0, lo, hi, d, offsetof(srv_model_cfg, n)}

static const want_key want_global[] = {
	GI(workers, 1, 64, 2),
	GI(blas_threads, 0, 64, 0),
	GI(log_retention_s, 0, INT64_MAX / 1000000, 604800),
	GI(log_retention_rows, 0, INT64_MAX, 1000000),
	GI(log_queue, 16, 1 << 24, 65536),
	GI(metrics_interval_s, 0, 86400, 10),
	GI(max_body_bytes, 64, 1 << 30, 1048576),
	GI(max_connections, 1, 1 << 20, 1024),
	GI(connection_timeout_s, 1, 86400, 30),
	GI(connection_memory_bytes, 4096, 1 << 24, 8192),
	GI(drain_timeout_s, 1, 86400, 30),
};

/* clang-format off */
static const want_key want_model[] = {
	MI(max_batch_size, 1, 65536, 32),
	MI(max_batch_delay_us, 0, 10000000, 1000),
	MI(batch_multiple, 1, 65536, 16),
	MI(max_queue, 1, 1 << 24, 1024),
	MI(timeout_ms, 1, 3600000, 5000),
	MI(inline_max_us, 0, 1000, 0),
	MI(parallel, 1, 256, 4),
	MI(ctx_size, 16, 1 << 20, 2048),
	MI(prompt_chunk, 1, 65536, 256),
	MI(max_tokens_default, 1, 1 << 20, 256),
	MI(prompt_cache, 0, 1, 1),
	MI(repack, 0, 1, 1),
};
/* clang-format on */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static char tmp_dir[512];
static int file_seq;

/* Write text to a new file in tmp_dir; returns its path (static buffer). */
static const char *write_conf(const char *text)
{
	static char path[600];
	snprintf(path, sizeof(path), "%s/c%d.conf", tmp_dir, file_seq++);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	fclose(f);
	return path;
}

/* Load text over the defaults; returns srv_config_load's status. */
static int load_text(srv_config *cfg, const char *text, char *err, size_t errlen)
{
	srv_config_defaults(cfg);
	err[0] = '\0';
	return srv_config_load(cfg, write_conf(text), err, errlen);
}

static int64_t get_i64(const void *base, size_t off)
{
	int64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static void test_defaults(void)
{
	srv_config c;
	srv_config_defaults(&c);
	CHECK(strcmp(c.listen, "127.0.0.1:8080") == 0);
	CHECK(c.log_db[0] == '\0');
	CHECK(c.api_key[0] == '\0');
	CHECK_EQ_INT(c.n_models, 0);
	for (size_t i = 0; i < N_ELEMS(want_global); i++)
		CHECK_EQ_INT(get_i64(&c, want_global[i].offset), want_global[i].deflt);
	for (size_t i = 0; i < N_ELEMS(want_model); i++)
		CHECK_EQ_INT(get_i64(&c.model_defaults, want_model[i].offset), want_model[i].deflt);
	CHECK(c.model_defaults.path[0] == '\0');
	CHECK(c.model_defaults.chat_template[0] == '\0');
	CHECK(strcmp(c.model_defaults.kv_cache_type, "f16") == 0);
}

/* "key = v" at line 3 of a file, for a global or (in_model) a model key.
 * Returns the load status; err holds the message. */
static int load_one(srv_config *c, const char *key, const char *v, int in_model, char *err,
		    size_t errlen)
{
	char text[4096];
	snprintf(text, sizeof(text), "# line 1\n%s\n%s = %s\n", in_model ? "[model m]" : "", key,
		 v);
	return load_text(c, text, err, errlen);
}

/* Every integer key: both bounds accepted, one past each refused with a
 * message naming the file, line 3 and the key; garbage refused. */
static void test_int_keys(const want_key *t, size_t n, int in_model)
{
	srv_config c;
	char err[1024], v[64], loc[300];
	for (size_t i = 0; i < n; i++) {
		const want_key *k = &t[i];
		int64_t vals[2] = {k->min, k->max};
		for (int j = 0; j < 2; j++) {
			snprintf(v, sizeof(v), "%lld", (long long)vals[j]);
			int rc = load_one(&c, k->name, v, in_model, err, sizeof(err));
			CHECK_EQ_INT(rc, 0);
			if (rc < 0)
				fprintf(stderr, "  %s = %s: %s\n", k->name, v, err);
			const void *base = in_model ? (const void *)&c.models[0] : (const void *)&c;
			if (rc == 0)
				CHECK_EQ_INT(get_i64(base, k->offset), vals[j]);
		}
		snprintf(loc, sizeof(loc), "c%d.conf:3: %s:", file_seq, k->name);
		snprintf(v, sizeof(v), "%lld", (long long)k->min - 1);
		CHECK_EQ_INT(load_one(&c, k->name, v, in_model, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, loc);
		CHECK_STR_CONTAINS(err, "outside");
		if (k->max < INT64_MAX) {
			snprintf(loc, sizeof(loc), "c%d.conf:3: %s:", file_seq, k->name);
			snprintf(v, sizeof(v), "%lld", (long long)k->max + 1);
			CHECK_EQ_INT(load_one(&c, k->name, v, in_model, err, sizeof(err)), -1);
			CHECK_STR_CONTAINS(err, loc);
		}
		static const char *bad[] = {"", "ten", "12abc", "1.5", "0x10",
					    "99999999999999999999999"};
		for (size_t b = 0; b < N_ELEMS(bad); b++) {
			snprintf(loc, sizeof(loc), "c%d.conf:3: %s:", file_seq, k->name);
			CHECK_EQ_INT(load_one(&c, k->name, bad[b], in_model, err, sizeof(err)), -1);
			CHECK_STR_CONTAINS(err, loc);
		}
	}
}

/* String keys: set, emptied, and one byte too long refused. */
static void test_str_keys(void)
{
	srv_config c;
	char err[1024];
	CHECK_EQ_INT(load_text(&c, "listen = [::1]:9000\nlog_db = /var/x.db\napi_key = s3cr=t\n",
			       err, sizeof(err)),
		     0);
	CHECK(strcmp(c.listen, "[::1]:9000") == 0);
	CHECK(strcmp(c.log_db, "/var/x.db") == 0);
	CHECK(strcmp(c.api_key, "s3cr=t") == 0); /* first '=' splits key and value */
	CHECK_EQ_INT(load_text(&c, "log_db = /a.db\nlog_db =\n", err, sizeof(err)), 0);
	CHECK(c.log_db[0] == '\0'); /* later lines win; empty = no database */

	char *text = malloc(2048);
	char *longv = malloc(1100);
	memset(longv, 'k', 255);
	longv[255] = '\0';
	snprintf(text, 2048, "api_key = %s\n", longv);
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), 0);
	CHECK_EQ_INT(strlen(c.api_key), 255);
	snprintf(text, 2048, "api_key = %sk\n", longv);
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, ":1: api_key: value longer than 255 bytes");
	memset(longv, '/', 1024);
	longv[1024] = '\0';
	snprintf(text, 2048, "[model a]\npath = %s\n", longv);
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, ":2: path: value longer than 1023 bytes");
	snprintf(text, 2048, "[model a]\nchat_template = chatml\n");
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), 0);
	CHECK(strcmp(c.models[0].chat_template, "chatml") == 0);
	free(text);
	free(longv);
}

static void test_syntax(void)
{
	srv_config c;
	char err[1024];
	/* comments, blank lines, tabs, CRLF, spaces around '=' and in headers */
	const char *ok = "# comment\n; also a comment\n   # indented comment\n\n \t \n"
			 "workers=3\r\n\tmax_connections \t=\t 77  \n"
			 "[ model  alpha ]\r\n  path =  /m/a.gguf \n"
			 "max_batch_size = 8\n[model b.2-x_y]\npath=/m/b.gguf\n";
	CHECK_EQ_INT(load_text(&c, ok, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ_INT(c.workers, 3);
	CHECK_EQ_INT(c.max_connections, 77);
	CHECK_EQ_INT(c.n_models, 2);
	CHECK(strcmp(c.models[0].name, "alpha") == 0);
	CHECK(strcmp(c.models[0].path, "/m/a.gguf") == 0);
	CHECK_EQ_INT(c.models[0].max_batch_size, 8);
	CHECK_EQ_INT(c.models[0].timeout_ms, 5000); /* untouched keys keep the defaults */
	CHECK(strcmp(c.models[1].name, "b.2-x_y") == 0);
	CHECK_EQ_INT(c.models[1].max_batch_size, 32);
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), 0);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"workers = 2\nbogus = 1\n", ":2: unknown setting 'bogus'"},
		{"workers\n", ":1: expected 'key = value'"},
		{"[model a]\nworkers = 2\n", ":2: unknown model setting 'workers'"},
		{"[model a]\nbogus = 2\n", ":2: unknown model setting 'bogus'"},
		{"\n[model a\n", ":2: bad section header"},
		{"[model a] # x\n", ":1: bad section header"},
		{"[server]\n", ":1: unknown section '[server]'"},
		{"[modelx]\n", ":1: unknown section"},
		{"[model]\n", ":1: unknown section"},
		{"[model a/b]\n", ":1: model name 'a/b'"},
		{"[model a b]\n", ":1: model name 'a b'"},
		{"workers = 4 # four\n", ":1: workers: '4 # four' is not an integer"},
		{"workers = -1\n", ":1: workers: -1 is outside [1, 64]"},
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		CHECK_EQ_INT(load_text(&c, bad[i].text, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, bad[i].msg);
	}

	/* a 64-byte model name is one too many; 63 fits */
	char text[256], name[80];
	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(text, sizeof(text), "[model %s]\npath = /x\n", name);
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "[model %sn]\npath = /x\n", name);
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, ":1: model name");

	/* a line longer than the reader's buffer is refused, not split */
	char *huge = malloc(5000);
	memset(huge, '#', 4998);
	huge[4998] = '\n';
	huge[4999] = '\0';
	CHECK_EQ_INT(load_text(&c, huge, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, ":1: line too long");
	free(huge);

	CHECK_EQ_INT(load_text(&c, "", err, sizeof(err)), 0); /* empty file: defaults */
	CHECK_EQ_INT(c.workers, 2);
	srv_config_defaults(&c);
	CHECK_EQ_INT(srv_config_load(&c, "/nonexistent/modeld.conf", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "/nonexistent/modeld.conf: No such file");
}

static void test_models(void)
{
	srv_config c;
	char err[1024];
	/* the same section twice in one file is a mistake: refused, naming both lines */
	CHECK_EQ_INT(load_text(&c, "[model a]\npath = /1\n[model b]\npath = /2\n[model a]\n", err,
			       sizeof(err)),
		     -1);
	CHECK_STR_CONTAINS(err, ":5: duplicate section [model a] (first at line 1)");

	/* a section for a model of earlier values (another file) overrides it */
	srv_config_defaults(&c);
	CHECK_EQ_INT(srv_config_add_model(&c, "a=/first.gguf", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_load(&c, write_conf("[model a]\nmax_queue = 3\n"), err,
				     sizeof(err)),
		     0);
	CHECK_EQ_INT(c.n_models, 1);
	CHECK_EQ_INT(c.models[0].max_queue, 3);
	CHECK(strcmp(c.models[0].path, "/first.gguf") == 0);

	/* a model without a path, and no model at all, fail the check */
	CHECK_EQ_INT(load_text(&c, "[model a]\nmax_queue = 4\n", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "model 'a' has no path");
	CHECK_EQ_INT(load_text(&c, "workers = 1\n", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "no models configured");
	CHECK_EQ_INT(load_text(&c, "listen = 8080\n[model a]\npath=/a\n", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "listen '8080': expected ADDR:PORT");

	/* SRV_MAX_MODELS sections fit, one more is refused at its line */
	size_t cap = 64 * (SRV_MAX_MODELS + 2);
	char *text = malloc(cap);
	size_t len = 0;
	for (int i = 0; i <= SRV_MAX_MODELS; i++)
		len += (size_t)snprintf(text + len, cap - len, "[model m%d]\npath = /m%d\n", i, i);
	CHECK_EQ_INT(load_text(&c, text, err, sizeof(err)), -1);
	char want[64];
	snprintf(want, sizeof(want), ":%d: more than %d models", 2 * SRV_MAX_MODELS + 1,
		 SRV_MAX_MODELS);
	CHECK_STR_CONTAINS(err, want);
	CHECK_EQ_INT(c.n_models, SRV_MAX_MODELS);
	free(text);
}

/* modeld's order: defaults, file, then --listen, --log-db, --model NAME=FILE
 * (which replaces a file model's path and keeps its batching values, or adds
 * a model with the defaults). */
static void test_overrides(void)
{
	srv_config c;
	char err[1024];
	CHECK_EQ_INT(load_text(&c,
			       "listen = 127.0.0.1:1\nlog_db = /file.db\n"
			       "[model a]\npath = /file/a.gguf\nmax_batch_size = 7\n",
			       err, sizeof(err)),
		     0);
	CHECK_EQ_INT(srv_config_set(&c, "listen", "0.0.0.0:0", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_set(&c, "log_db", "/cli.db", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_add_model(&c, "a=/cli/a.gguf", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_add_model(&c, "b=/cli/b=c.gguf", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), 0);
	CHECK(strcmp(c.listen, "0.0.0.0:0") == 0);
	CHECK(strcmp(c.log_db, "/cli.db") == 0);
	CHECK_EQ_INT(c.n_models, 2);
	CHECK(strcmp(c.models[0].path, "/cli/a.gguf") == 0);
	CHECK_EQ_INT(c.models[0].max_batch_size, 7);
	CHECK(strcmp(c.models[1].name, "b") == 0);
	CHECK(strcmp(c.models[1].path, "/cli/b=c.gguf") == 0);
	CHECK_EQ_INT(c.models[1].max_batch_size, 32);

	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{"a", "--model 'a': expected NAME=FILE.gguf"},
		{"a=", "--model 'a=': expected NAME=FILE.gguf"},
		{"=x.gguf", "model name ''"},
		{"a b=x.gguf", "model name 'a b'"},
	};
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		CHECK_EQ_INT(srv_config_add_model(&c, bad[i].spec, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, bad[i].msg);
	}
	CHECK_EQ_INT(srv_config_set(&c, "no_such_key", "1", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "unknown setting 'no_such_key'");
	CHECK_EQ_INT(srv_config_set(&c, "workers", "65", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "workers: 65 is outside [1, 64]");
	CHECK_EQ_INT(c.workers, 2); /* a refused value leaves the old one */

	/* --model alone, without a file */
	srv_config_defaults(&c);
	CHECK_EQ_INT(srv_config_add_model(&c, "solo=/s.gguf", err, sizeof(err)), 0);
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), 0);
	CHECK_EQ_INT(c.models[0].max_queue, 1024);
}

/* etc/modeld.conf parses; every global value it sets is the built-in
 * default (except log_db, which it points at the service's state directory);
 * its models check; and the commented language-model example, uncommented,
 * parses with the documented defaults. */
static void test_shipped(void)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	char path[1024], err[1024];
	snprintf(path, sizeof(path), "%s/etc/modeld.conf", top);
	srv_config c, d;
	srv_config_defaults(&c);
	srv_config_defaults(&d);
	int rc = srv_config_load(&c, path, err, sizeof(err));
	CHECK_EQ_INT(rc, 0);
	if (rc < 0) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ_INT(srv_config_check(&c, err, sizeof(err)), 0);
	CHECK(strcmp(c.listen, d.listen) == 0);
	CHECK(strcmp(c.api_key, d.api_key) == 0);
	CHECK(strcmp(c.log_db, "/var/lib/modeld/requests.db") == 0);
	for (size_t i = 0; i < N_ELEMS(want_global); i++) {
		int64_t got = get_i64(&c, want_global[i].offset);
		CHECK_EQ_INT(got, want_global[i].deflt);
		if (got != want_global[i].deflt)
			fprintf(stderr, "  etc/modeld.conf %s\n", want_global[i].name);
	}
	CHECK_EQ_INT(c.n_models, 2);
	CHECK(strcmp(c.models[0].name, "regression") == 0);
	CHECK(strcmp(c.models[0].path, "/usr/share/modeld/models/regression.gguf") == 0);
	CHECK(strcmp(c.models[1].name, "digits") == 0);
	CHECK_EQ_INT(c.models[1].max_batch_size, 64);
	CHECK_EQ_INT(c.models[1].max_batch_delay_us, 2000);
	/* the regression section spells out the model defaults */
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ_INT(get_i64(&c.models[0], want_model[i].offset), want_model[i].deflt);

	/* the chat example: the '#' lines after "#[model chat]" */
	FILE *f = fopen(path, "r");
	char line[2048], *text = calloc(1, 8192);
	size_t len = 0;
	int in_chat = 0;
	while (f && text && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "#[model chat]", 13) == 0)
			in_chat = 1;
		if (in_chat && line[0] == '#' && len + strlen(line) < 8192) {
			memcpy(text + len, line + 1, strlen(line + 1));
			len += strlen(line + 1);
		}
	}
	if (f)
		fclose(f);
	CHECK(in_chat);
	CHECK_EQ_INT(load_text(&c, text ? text : "", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.n_models, 1);
	CHECK(strcmp(c.models[0].name, "chat") == 0);
	for (size_t i = 4; i < N_ELEMS(want_model); i++)
		CHECK_EQ_INT(get_i64(&c.models[0], want_model[i].offset), want_model[i].deflt);
	CHECK_EQ_INT(c.models[0].max_queue, 64);
	CHECK(c.models[0].chat_template[0] == '\0');
	free(text);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/modeld-test-config-XXXXXX", t && t[0] ? t : "/tmp");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_defaults();
	test_int_keys(want_global, N_ELEMS(want_global), 0);
	test_int_keys(want_model, N_ELEMS(want_model), 1);
	test_str_keys();
	test_syntax();
	test_models();
	test_overrides();
	test_shipped();
	for (int i = 0; i < file_seq; i++) {
		char p[600];
		snprintf(p, sizeof(p), "%s/c%d.conf", tmp_dir, i);
		unlink(p);
	}
	rmdir(tmp_dir);
	TEST_END();
}
