/* Tests of the SQLite request log: every submitted row lands, a full queue
 * and an unusable database drop and count rows without blocking, retention. */
#include "log.h"
#include "test.h"

#include <sqlite3.h>
#include <stdint.h>
#include <unistd.h>

static char tmpdir[256];

static int64_t count_rows(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

static srv_log_record make_record(int i)
{
	srv_log_record r;
	memset(&r, 0, sizeof r);
	r.time_us = 1700000000000000LL + i;
	snprintf(r.model, sizeof r.model, "m%d", i % 3);
	snprintf(r.endpoint, sizeof r.endpoint, "/v1/predict");
	r.status = i % 10 == 0 ? 400 : 200;
	r.latency_ms = i * 0.5;
	r.batch_size = 1 + i % 8;
	r.instances = 1;
	snprintf(r.client, sizeof r.client, "127.0.0.1");
	if (r.status != 200)
		snprintf(r.error, sizeof r.error, "invalid_shape");
	return r;
}

static void test_all_rows_written(void)
{
	char path[300], err[256];
	snprintf(path, sizeof path, "%s/all.db", tmpdir);
	srv_log_config cfg = srv_log_default_config();
	cfg.path = path;
	srv_log *log = srv_log_open(&cfg, err, sizeof err);
	CHECK(log != NULL);
	CHECK_EQ_INT(err[0], 0);
	for (int i = 0; i < 20000; i++) {
		srv_log_record r = make_record(i);
		CHECK_EQ_INT(srv_log_submit(log, &r), 0);
	}
	CHECK_EQ_INT(srv_log_submit_metric(log, 1, "queue_depth", 3.5), 0);
	srv_log_close(log);
	CHECK_EQ_INT(count_rows(path, "SELECT count(*) FROM requests"), 20000);
	CHECK_EQ_INT(count_rows(path, "SELECT count(*) FROM requests WHERE status = 400 AND "
				      "error = 'invalid_shape'"),
		     2000);
	CHECK_EQ_INT(count_rows(path, "SELECT sum(batch_size) FROM requests"), 20000 / 8 * 36);
	CHECK_EQ_INT(count_rows(path, "SELECT count(*) FROM metrics WHERE name = 'queue_depth' "
				      "AND value = 3.5"),
		     1);
}

static void test_unwritable_database(void)
{
	char err[256];
	srv_log_config cfg = srv_log_default_config();
	cfg.path = "/nonexistent-dir/sub/requests.db";
	srv_log *log = srv_log_open(&cfg, err, sizeof err);
	CHECK(log != NULL);
	CHECK_STR_CONTAINS(err, "log database");
	for (int i = 0; i < 100; i++) {
		srv_log_record r = make_record(i);
		srv_log_submit(log, &r);
	}
	srv_log_close(log);
	/* closing drains: all 100 are accounted for as dropped */
}

static void test_unwritable_counts(void)
{
	char err[256];
	srv_log_config cfg = srv_log_default_config();
	cfg.path = "/nonexistent-dir/sub/requests.db";
	cfg.flush_interval_ms = 5;
	srv_log *log = srv_log_open(&cfg, err, sizeof err);
	for (int i = 0; i < 100; i++) {
		srv_log_record r = make_record(i);
		srv_log_submit(log, &r);
	}
	for (int i = 0; i < 200 && srv_log_rows_dropped(log) < 100; i++)
		usleep(10000);
	CHECK_EQ_INT(srv_log_rows_dropped(log), 100);
	CHECK_EQ_INT(srv_log_rows_written(log), 0);
	srv_log_close(log);
}

static void test_locked_database(void)
{
	char path[300], err[256];
	snprintf(path, sizeof path, "%s/locked.db", tmpdir);
	srv_log_config cfg = srv_log_default_config();
	cfg.path = path;
	cfg.flush_interval_ms = 5;
	cfg.busy_timeout_ms = 20;
	cfg.queue_capacity = 64;
	srv_log *log = srv_log_open(&cfg, err, sizeof err);
	CHECK(log != NULL);

	sqlite3 *other;
	CHECK_EQ_INT(sqlite3_open(path, &other), SQLITE_OK);
	CHECK_EQ_INT(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	/* Submitting never blocks, even with the writer stuck on the lock. */
	int accepted = 0;
	for (int i = 0; i < 1000; i++) {
		srv_log_record r = make_record(i);
		accepted += srv_log_submit(log, &r) == 0;
	}
	CHECK(accepted < 1000);
	for (int i = 0; i < 300 && srv_log_rows_dropped(log) < 1000; i++)
		usleep(10000);
	CHECK_EQ_INT(srv_log_rows_dropped(log), 1000);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);

	/* Once the lock is gone rows are written again. */
	for (int i = 0; i < 10; i++) {
		srv_log_record r = make_record(i);
		CHECK_EQ_INT(srv_log_submit(log, &r), 0);
	}
	srv_log_close(log);
	CHECK_EQ_INT(count_rows(path, "SELECT count(*) FROM requests"), 10);
}

static void test_retention_rows(void)
{
	char path[300], err[256];
	snprintf(path, sizeof path, "%s/retention.db", tmpdir);
	srv_log_config cfg = srv_log_default_config();
	cfg.path = path;
	cfg.retention_rows = 50;
	cfg.batch_max = 100;
	cfg.flush_interval_ms = 5;
	srv_log *log = srv_log_open(&cfg, err, sizeof err);
	for (int i = 0; i < 500; i++) {
		srv_log_record r = make_record(i);
		srv_log_submit(log, &r);
	}
	srv_log_close(log);
	/* Retention runs once per 10 s, so the first pass after the first
	 * batch removed rows; later batches may add more. The newest rows are
	 * always kept. */
	int64_t n = count_rows(path, "SELECT count(*) FROM requests");
	CHECK(n >= 50 && n < 500);
	CHECK_EQ_INT(count_rows(path, "SELECT max(time_us) - 1700000000000000 FROM requests"), 499);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/test_log.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	test_all_rows_written();
	test_unwritable_database();
	test_unwritable_counts();
	test_locked_database();
	test_retention_rows();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	TEST_END();
}
