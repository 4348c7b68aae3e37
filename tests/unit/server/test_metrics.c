/* Prometheus metrics (server/metrics.c): counters by model and status,
 * cumulative histogram buckets against counts made here from the same
 * values, 404s and models past the table folded into model "", and the
 * gauges of the text. The log and language-model hooks are stubbed. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "srv.h"
#include "test.h"

/* stubs of what metrics.c calls in other files */
char *srv_llm_metrics_text(const srv_llm *l, const char *model)
{
	(void)l;
	(void)model;
	return NULL;
}
uint64_t srv_log_rows_written(const srv_log *log)
{
	(void)log;
	return 0;
}
uint64_t srv_log_rows_dropped(const srv_log *log)
{
	(void)log;
	return 0;
}
int srv_log_submit_metric(srv_log *log, int64_t time_us, const char *name, double value)
{
	(void)log;
	(void)time_us;
	(void)name;
	(void)value;
	return 0;
}

/* The value of the sample line "name value" in text, or -1. */
static double sample(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

int main(void)
{
	static srv s;
	srv_metrics_init(&s.metrics);
	/* latencies with known bucket positions (bounds 0.0005 ... 10, +Inf) */
	static const double lat[] = {0.0001, 0.0005, 0.0007, 0.003, 0.003, 0.2, 5, 11, 100};
	double sum = 0;
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		srv_metrics_request(&s.metrics, "m", 200, lat[i], lat[i] / 2, lat[i] / 4, 1 + (int)i);
		sum += lat[i];
	}
	srv_metrics_request(&s.metrics, "m", 400, 0.001, 0, 0, 0); /* refused: no batch */
	srv_metrics_request(&s.metrics, "nosuch", 404, 0.001, 0, 0, 0);
	for (int i = 0; i < SRV_MAX_MODELS + 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "x%d", i);
		srv_metrics_request(&s.metrics, name, 200, 0.001, 0, 0, 1);
	}
	for (int st = 500; st < 500 + SRV_STATUS_MAX + 4; st++)
		srv_metrics_request(&s.metrics, "m", st, 0.001, 0, 0, 0);
	s.ready = 1;
	s.metrics.inflight = 3;
	size_t len = 0;
	char *text = srv_metrics_render(&s, &len);
	CHECK(text != NULL);
	if (!text)
		TEST_END();
	CHECK_EQ_INT(strlen(text), len);

	CHECK_EQ_INT(sample(text, "modeld_requests_total{model=\"m\",status=\"200\"}"), 9);
	CHECK_EQ_INT(sample(text, "modeld_requests_total{model=\"m\",status=\"400\"}"), 1);
	CHECK_EQ_INT(sample(text, "modeld_requests_total{model=\"\",status=\"404\"}"), 1);
	CHECK(!strstr(text, "nosuch"));
	/* cumulative buckets: counted here from lat[] with "le" = less or equal */
	static const double le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				    0.1,    0.25,  0.5,    1,     2.5,  10};
	const char *hist = "modeld_request_duration_seconds";
	char name[160];
	for (size_t b = 0; b < sizeof(le) / sizeof(le[0]); b++) {
		int want = 0;
		for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++)
			want += lat[i] <= le[b];
		want += le[b] >= 0.001; /* the 400 (0.001 s) and the 5xx answers */
		want += le[b] >= 0.001 ? SRV_STATUS_MAX + 4 : 0;
		snprintf(name, sizeof(name), "%s_bucket{model=\"m\",le=\"%g\"}", hist, le[b]);
		CHECK_EQ_INT(sample(text, name), want);
	}
	snprintf(name, sizeof(name), "%s_bucket{model=\"m\",le=\"+Inf\"}", hist);
	CHECK_EQ_INT(sample(text, name), 10 + SRV_STATUS_MAX + 4);
	snprintf(name, sizeof(name), "%s_sum{model=\"m\"}", hist);
	CHECK_NEAR(sample(text, name), sum + 0.001 * (1 + SRV_STATUS_MAX + 4), 1e-6);
	/* queue, inference and batch only for requests that ran */
	CHECK_EQ_INT(sample(text, "modeld_batch_size_count{model=\"m\"}"), 9);
	CHECK_EQ_INT(sample(text, "modeld_batch_size_sum{model=\"m\"}"), 45);
	CHECK_EQ_INT(sample(text, "modeld_batch_size_bucket{model=\"m\",le=\"4\"}"), 4);
	CHECK_NEAR(sample(text, "modeld_queue_duration_seconds_sum{model=\"m\"}"), sum / 2, 1e-6);
	CHECK_NEAR(sample(text, "modeld_inference_duration_seconds_sum{model=\"m\"}"), sum / 4,
		   1e-6);
	/* the table holds "" + SRV_MAX_MODELS names: "" and m take two, so the
	 * last x names share "" */
	int named = 0;
	for (int i = 0; i < SRV_MAX_MODELS + 3; i++) {
		snprintf(name, sizeof(name), "modeld_requests_total{model=\"x%d\",status=\"200\"}",
			 i);
		named += sample(text, name) == 1;
	}
	CHECK_EQ_INT(named, SRV_MAX_MODELS - 1);
	CHECK_EQ_INT(sample(text, "modeld_requests_total{model=\"\",status=\"200\"}"), 4);
	/* statuses past SRV_STATUS_MAX are not lost from the latency count */
	int statuses = 0;
	for (int st = 500; st < 500 + SRV_STATUS_MAX + 4; st++) {
		snprintf(name, sizeof(name), "modeld_requests_total{model=\"m\",status=\"%d\"}", st);
		statuses += sample(text, name) == 1;
	}
	CHECK_EQ_INT(statuses, SRV_STATUS_MAX - 2); /* 200 and 400 took two slots */
	CHECK_EQ_INT(sample(text, "modeld_inflight_requests"), 3);
	CHECK_EQ_INT(sample(text, "modeld_ready"), 1);
	CHECK_EQ_INT(sample(text, "modeld_models_loaded"), 0);
	free(text);
	TEST_END();
}
