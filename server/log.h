/* SQLite request log. DESIGN: one writer thread owns the database
 * connection; the loop thread hands it fixed-size records through a bounded
 * in-memory queue (srv_log_submit never blocks and never touches SQLite);
 * the writer commits them in batched transactions (WAL mode) and applies
 * retention. When the database is missing, locked, slow or full, records are
 * dropped and counted, and serving goes on. srv_log_close() writes every
 * record submitted before it was called. */
#ifndef SRV_LOG_H
#define SRV_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct srv_log srv_log;

typedef struct srv_log_config {
	const char *path;          /* database file; created with its tables */
	int queue_capacity;        /* records held in memory, default 65536 */
	int batch_max;             /* records per transaction, default 1024 */
	int flush_interval_ms;     /* max delay before a commit, default 200 */
	int64_t retention_seconds; /* delete rows older than this; 0 = keep */
	int64_t retention_rows;    /* keep at most this many request rows; 0 = all */
	int busy_timeout_ms;       /* SQLite busy timeout in the writer, default 100 */
} srv_log_config;
srv_log_config srv_log_default_config(void);

/* One row of the `requests` table. Strings are copied into the record. */
typedef struct srv_log_record {
	int64_t time_us; /* wall clock, microseconds since the epoch */
	char model[64];
	char endpoint[48];
	int status;
	double latency_ms, queue_ms, infer_ms;
	int batch_size;
	int64_t instances;
	int64_t bytes_in, bytes_out;
	char client[64];
	char error[32]; /* error code or "" */
	/* language models (0 / "" otherwise) */
	int64_t prompt_tokens, completion_tokens, cached_tokens;
	double ttft_ms;
	char finish_reason[16];
} srv_log_record;

/* Open (or create) the database and start the writer thread. A database
 * that cannot be opened is not fatal: the handle still accepts records and
 * counts them as dropped; err then holds the reason. Returns NULL only on
 * allocation or thread-creation failure. */
srv_log *srv_log_open(const srv_log_config *cfg, char *err, size_t errlen);

/* Queue a record (copied). Never blocks. Returns 0, or -1 when the queue is
 * full or the log is closing (the record is counted as dropped). */
int srv_log_submit(srv_log *log, const srv_log_record *rec);

/* Queue a row of the `metrics` table (name, value at time_us). Same rules. */
int srv_log_submit_metric(srv_log *log, int64_t time_us, const char *name, double value);

/* Rows written / dropped so far (thread-safe reads for /metrics). */
uint64_t srv_log_rows_written(const srv_log *log);
uint64_t srv_log_rows_dropped(const srv_log *log);

/* Write every queued record, stop the writer, close the database, free. */
void srv_log_close(srv_log *log);

#endif
