/* modeld configuration: the settings table and the INI-like file reader.
 * Each setting is one row {name, type, bounds, default, offset}; the same
 * table parses the file, applies command-line overrides and sets defaults. */
#include "srv_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum srv__cfg_type { CFG_INT, CFG_STR };

typedef struct srv__cfg_entry {
	const char *name;
	int type;
	int64_t min, max;    /* CFG_INT bounds */
	const char *deflt;   /* default as text */
	size_t offset, size; /* field in the struct; size for strings */
} srv__cfg_entry;

#define G_INT(n, lo, hi, d) {#n, CFG_INT, lo, hi, d, offsetof(srv_config, n), 0}
#define G_STR(n, d) {#n, CFG_STR, 0, 0, d, offsetof(srv_config, n), sizeof(((srv_config *)0)->n)}
#define M_INT(n, lo, hi, d) {#n, CFG_INT, lo, hi, d, offsetof(srv_model_cfg, n), 0}
#define M_STR(n, d)                                                                              \
	{#n, CFG_STR, 0, 0, d, offsetof(srv_model_cfg, n), sizeof(((srv_model_cfg *)0)->n)}

static const srv__cfg_entry srv__global_table[] = {
	G_STR(listen, "127.0.0.1:8080"),
	G_INT(workers, 1, 64, "2"),
	G_INT(blas_threads, 0, 64, "0"), /* 0: 1 (see etc/modeld.conf) */
	G_STR(log_db, ""),
	G_INT(log_retention_s, 0, INT64_MAX / 1000000, "604800"),
	G_INT(log_retention_rows, 0, INT64_MAX, "1000000"),
	G_INT(log_queue, 16, 1 << 24, "65536"),
	G_INT(metrics_interval_s, 0, 86400, "10"),
	G_INT(max_body_bytes, 64, 1 << 30, "1048576"),
	G_INT(max_connections, 1, 1 << 20, "1024"),
	G_INT(connection_timeout_s, 1, 86400, "30"),
	G_INT(connection_memory_bytes, 4096, 1 << 24, "8192"),
	G_INT(drain_timeout_s, 1, 86400, "30"),
	G_STR(api_key, ""),
};

static const srv__cfg_entry srv__model_table[] = {
    M_STR(path, ""),
    M_INT(max_batch_size, 1, 65536, "32"),
    M_INT(max_batch_delay_us, 0, 10000000, "1000"),
    M_INT(batch_multiple, 1, 65536, "16"),
    M_INT(max_queue, 1, 1 << 24, "1024"),
    M_INT(timeout_ms, 1, 3600000, "5000"),
    M_INT(inline_max_us, 0, 1000, "0"),
    M_INT(parallel, 1, 256, "4"),
    M_INT(ctx_size, 16, 1 << 20, "2048"),
    M_INT(prompt_chunk, 1, 65536, "256"),
    M_INT(prompt_cache, 0, 1, "1"),
    M_INT(repack, 0, 1, "1"),
    M_INT(max_tokens_default, 1, 1 << 20, "256"),
    M_STR(chat_template, ""),
    M_STR(kv_cache_type, "f16"),
    M_STR(reasoning_format, "auto"),
    M_STR(pooling, "mean"),
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Parse value into the field e points at inside base. 0 or -1 with err. */
static int srv__cfg_apply(const srv__cfg_entry *e, void *base, const char *value, char *err,
			  size_t errlen)
{
	char *field = (char *)base + e->offset;
	if (e->type == CFG_STR) {
		if (strlen(value) >= e->size) {
			snprintf(err, errlen, "%s: value longer than %zu bytes", e->name,
				 e->size - 1);
			return -1;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	}
	char *end;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (errno || end == value || *end != '\0') {
		snprintf(err, errlen, "%s: '%s' is not an integer", e->name, value);
		return -1;
	}
	if (v < e->min || v > e->max) {
		snprintf(err, errlen, "%s: %lld is outside [%" PRId64 ", %" PRId64 "]", e->name, v,
			 e->min, e->max);
		return -1;
	}
	*(int64_t *)(void *)field = v;
	return 0;
}

static const srv__cfg_entry *srv__cfg_find(const srv__cfg_entry *t, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, key) == 0)
			return &t[i];
	return NULL;
}

static void srv__model_defaults(srv_model_cfg *m)
{
	char err[8];
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < N_ELEMS(srv__model_table); i++)
		srv__cfg_apply(&srv__model_table[i], m, srv__model_table[i].deflt, err,
			       sizeof(err));
}

void srv_config_defaults(srv_config *cfg)
{
	char err[8];
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_ELEMS(srv__global_table); i++)
		srv__cfg_apply(&srv__global_table[i], cfg, srv__global_table[i].deflt, err,
			       sizeof(err));
	srv__model_defaults(&cfg->model_defaults);
}

int srv_config_set(srv_config *cfg, const char *key, const char *value, char *err,
		   size_t errlen)
{
	const srv__cfg_entry *e = srv__cfg_find(srv__global_table, N_ELEMS(srv__global_table), key);
	if (!e) {
		snprintf(err, errlen, "unknown setting '%s'", key);
		return -1;
	}
	return srv__cfg_apply(e, cfg, value, err, errlen);
}

/* Find the model called name, or add a fresh one with the defaults. */
static srv_model_cfg *srv__model_slot(srv_config *cfg, const char *name, size_t len, char *err,
				      size_t errlen)
{
	if (len == 0 || len >= SRV_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz"
							  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
							  "0123456789_.-") < len) {
		snprintf(err, errlen, "model name '%.*s': use 1-%d of [A-Za-z0-9_.-]", (int)len,
			 name, SRV_NAME_MAX - 1);
		return NULL;
	}
	for (int i = 0; i < cfg->n_models; i++)
		if (strlen(cfg->models[i].name) == len && !memcmp(cfg->models[i].name, name, len))
			return &cfg->models[i];
	if (cfg->n_models == SRV_MAX_MODELS) {
		snprintf(err, errlen, "more than %d models", SRV_MAX_MODELS);
		return NULL;
	}
	srv_model_cfg *m = &cfg->models[cfg->n_models++];
	*m = cfg->model_defaults;
	memcpy(m->name, name, len);
	m->name[len] = '\0';
	return m;
}

int srv_config_add_model(srv_config *cfg, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	if (!eq || !eq[1]) {
		snprintf(err, errlen, "--model '%s': expected NAME=FILE.gguf", spec);
		return -1;
	}
	srv_model_cfg *m = srv__model_slot(cfg, spec, (size_t)(eq - spec), err, errlen);
	if (!m)
		return -1;
	return srv__cfg_apply(srv__cfg_find(srv__model_table, N_ELEMS(srv__model_table), "path"),
			      m, eq + 1, err, errlen);
}

static char *srv__trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* State of one file's reading: the current [model] section (NULL before the
 * first), and the line of each section the file opened, so that the same
 * section twice in one file is refused (models from earlier values are
 * overridden, as --model does). */
typedef struct srv__cfg_reader {
	srv_model_cfg *model;
	int lineno, first_model;
	int section_line[SRV_MAX_MODELS];
} srv__cfg_reader;

/* Open the [model NAME] section of the header at rd->lineno. 0 or -1. */
static int srv__config_section(srv_config *cfg, const char *name, srv__cfg_reader *rd, char *err,
			       size_t errlen)
{
	int n_before = cfg->n_models;
	rd->model = srv__model_slot(cfg, name, strlen(name), err, errlen);
	if (!rd->model)
		return -1;
	int idx = (int)(rd->model - cfg->models);
	if (idx < rd->first_model)
		return 0;
	if (cfg->n_models == n_before) {
		snprintf(err, errlen, "duplicate section [model %s] (first at line %d)", name,
			 rd->section_line[idx]);
		return -1;
	}
	rd->section_line[idx] = rd->lineno;
	return 0;
}

/* One line of the file. */
static int srv__config_line(srv_config *cfg, char *line, srv__cfg_reader *rd, char *err,
			    size_t errlen)
{
	srv_model_cfg **model = &rd->model;
	char *s = srv__trim(line);
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close || close[1] != '\0') {
			snprintf(err, errlen, "bad section header");
			return -1;
		}
		*close = '\0';
		char *name = srv__trim(s + 1);
		if (strncmp(name, "model", 5) != 0 || (name[5] != ' ' && name[5] != '\t')) {
			snprintf(err, errlen, "unknown section '[%s]' (want [model NAME])", name);
			return -1;
		}
		return srv__config_section(cfg, srv__trim(name + 5), rd, err, errlen);
	}
	char *eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	char *key = srv__trim(s), *value = srv__trim(eq + 1);
	if (!*model)
		return srv_config_set(cfg, key, value, err, errlen);
	const srv__cfg_entry *e = srv__cfg_find(srv__model_table, N_ELEMS(srv__model_table), key);
	if (!e) {
		snprintf(err, errlen, "unknown model setting '%s'", key);
		return -1;
	}
	return srv__cfg_apply(e, *model, value, err, errlen);
}

int srv_config_load(srv_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[2048], why[512];
	srv__cfg_reader rd = {.model = NULL, .lineno = 0, .first_model = cfg->n_models};
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		rd.lineno = ++lineno;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		if (srv__config_line(cfg, line, &rd, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int srv_config_check(const srv_config *cfg, char *err, size_t errlen)
{
	if (cfg->n_models == 0) {
		snprintf(err, errlen, "no models configured (use [model NAME] or --model)");
		return -1;
	}
	for (int i = 0; i < cfg->n_models; i++)
		if (cfg->models[i].path[0] == '\0') {
			snprintf(err, errlen, "model '%s' has no path", cfg->models[i].name);
			return -1;
		}
	if (!strrchr(cfg->listen, ':')) {
		snprintf(err, errlen, "listen '%s': expected ADDR:PORT", cfg->listen);
		return -1;
	}
	return 0;
}
