/* modeld configuration: one table of settings {name, type, bounds, default}
 * read from an INI-like file (global keys, then [model NAME] sections) and
 * overridden from the command line. See etc/modeld.conf for the format. */
#ifndef SRV_SRV_CONFIG_H
#define SRV_SRV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_MODELS 32
#define SRV_NAME_MAX 64
#define SRV_PATH_MAX 1024

typedef struct srv_model_cfg {
	char name[SRV_NAME_MAX];
	char path[SRV_PATH_MAX];
	int64_t max_batch_size;     /* instances per batch */
	int64_t max_batch_delay_us; /* oldest request waits at most this long */
	int64_t batch_multiple;     /* a batch above it closes at a multiple of it */
	int64_t max_queue;          /* requests waiting; more -> 503 */
	int64_t timeout_ms;         /* not started within this -> 504 */
	int64_t inline_max_us;      /* run on the loop below this cost, 0 = never */
	/* language models */
	int64_t parallel;           /* sequence slots decoded together */
	int64_t ctx_size;           /* tokens per slot (capped by the model's) */
	int64_t prompt_chunk;       /* prompt tokens fed per scheduler step */
	int64_t prompt_cache;       /* 1: a slot keeps its tokens' KV for the next prompt */
	int64_t repack;             /* 1: Q8_0/Q4_0/Q4_K/Q5_K/Q6_K matrices reordered at load */
	int64_t max_tokens_default; /* max_tokens when a request gives none */
	char chat_template[32];     /* family name overriding the file's, "" = detect */
	char kv_cache_type[8];      /* "f16", "f32" or "q8_0" */
	char reasoning_format[16];  /* "auto" or "deepseek": <think> apart; "none" */
	char pooling[8];            /* /v1/embeddings: "mean", "cls" or "last" */
} srv_model_cfg;

typedef struct srv_config {
	char listen[128]; /* ADDR:PORT, port 0 = any free port */
	int64_t workers;  /* inference threads */
	int64_t blas_threads;
	char log_db[SRV_PATH_MAX]; /* "" = no database (rows counted as dropped) */
	int64_t log_retention_s;
	int64_t log_retention_rows;
	int64_t log_queue;
	int64_t metrics_interval_s; /* metrics table snapshot period, 0 = off */
	int64_t max_body_bytes;
	int64_t max_connections;
	int64_t connection_timeout_s;
	int64_t connection_memory_bytes; /* MHD's per-connection pool (headers, reads) */
	int64_t drain_timeout_s;
	char api_key[256]; /* "" = no key */
	/* defaults applied to models given with --model */
	srv_model_cfg model_defaults;
	int n_models;
	srv_model_cfg models[SRV_MAX_MODELS];
} srv_config;

/* Fill *cfg (OUT) with the built-in defaults and no models. */
void srv_config_defaults(srv_config *cfg);

/* Read the file at path into *cfg (which holds defaults or earlier values).
 * Returns 0, or -1 with a message naming the file, line and problem in err. */
int srv_config_load(srv_config *cfg, const char *path, char *err, size_t errlen);

/* Set one global key from its text ("workers", "4"); -1 with err if unknown
 * or out of bounds. */
int srv_config_set(srv_config *cfg, const char *key, const char *value, char *err,
		   size_t errlen);

/* Add or replace a model from "NAME=FILE" with the default batching values.
 * Returns 0 or -1 with err. */
int srv_config_add_model(srv_config *cfg, const char *spec, char *err, size_t errlen);

/* Check cross-field rules (at least one model, unique names). 0 or -1. */
int srv_config_check(const srv_config *cfg, char *err, size_t errlen);

#endif
