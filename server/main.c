/* modeld: serve graph models over HTTP. Parses the command line, builds the
 * configuration, sets thread counts, opens the request log and runs the loop
 * until the SIGTERM drain ends it. */
#include "config.h"

#include <cblas.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

static void srv__usage(FILE *f)
{
	fprintf(f, "usage: modeld [-c FILE] [--listen ADDR:PORT] [--model NAME=FILE.gguf]...\n"
		   "              [--log-db PATH]\n"
		   "  -c, --config FILE     read settings and [model NAME] sections from FILE\n"
		   "  -l, --listen A:P      listen address (default 127.0.0.1:8080; port 0 = any)\n"
		   "  -m, --model N=F       serve the GGUF file F as model N (repeatable)\n"
		   "  -d, --log-db PATH     SQLite request log\n"
		   "  -h, --help            this help\n"
		   "  -V, --version         print the version\n"
		   "Signals: SIGHUP reloads configuration and models, SIGTERM drains and exits.\n");
}

/* Parse argv into s. Returns -1 to continue, else the exit status. */
static int srv__args(srv *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
		{"model", required_argument, NULL, 'm'},  {"log-db", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	s->cli_models = calloc((size_t)argc, sizeof(*s->cli_models));
	if (!s->cli_models)
		return 1;
	while ((c = getopt_long(argc, argv, "c:l:m:d:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			s->config_path = optarg;
			break;
		case 'l':
			s->cli_listen = optarg;
			break;
		case 'm':
			s->cli_models[s->n_cli_models++] = optarg;
			break;
		case 'd':
			s->cli_log_db = optarg;
			break;
		case 'h':
			srv__usage(stdout);
			return 0;
		case 'V':
			printf("modeld %s (runtime kernels: %s)\n", SRV_VERSION, mrt_cpu_features());
			return 0;
		default:
			srv__usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "modeld: unexpected argument '%s'\n", argv[optind]);
		srv__usage(stderr);
		return 2;
	}
	return -1;
}

/* Worker threads for inference and BLAS threads inside each, so that the two
 * pools together do not oversubscribe the cores. */
static void srv__threads(srv *s)
{
	char n[16];
	snprintf(n, sizeof(n), "%lld", (long long)s->cfg.workers);
	setenv("UV_THREADPOOL_SIZE", n, 1); /* read by libuv at its first queued work */
	int blas = (int)s->cfg.blas_threads;
	if (blas == 0)
		blas = 1; /* more spin beside the loop and the other workers */
	openblas_set_num_threads(blas);
}

static srv_log *srv__log_open(srv *s)
{
	srv_log_config lc = srv_log_default_config();
	char err[512] = "";
	lc.path = s->cfg.log_db[0] ? s->cfg.log_db : NULL;
	lc.queue_capacity = (int)s->cfg.log_queue;
	lc.retention_seconds = s->cfg.log_retention_s;
	lc.retention_rows = s->cfg.log_retention_rows;
	srv_log *log = srv_log_open(&lc, err, sizeof(err));
	if (log && err[0])
		fprintf(stderr, "modeld: request log: %s (serving without it)\n", err);
	return log;
}

int main(int argc, char **argv)
{
	static srv s; /* large; lives for the whole process */
	char err[4096];
	int rc = srv__args(&s, argc, argv);
	if (rc >= 0)
		goto out_args;
	rc = 2;
	if (srv_config_build(&s, &s.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "modeld: %s\n", err);
		goto out_args;
	}
	signal(SIGPIPE, SIG_IGN);
	srv__threads(&s);
	srv_metrics_init(&s.metrics);
	rc = 1;
	s.log = srv__log_open(&s);
	if (!s.log) {
		fprintf(stderr, "modeld: cannot start the request log\n");
		goto out_args;
	}
	s.loop = uv_default_loop();
	s.t_boot = uv_hrtime();
	if (srv_http_start(&s, err, sizeof(err)) < 0) {
		fprintf(stderr, "modeld: %s\n", err);
		goto out_log;
	}
	fprintf(stderr, "modeld: listening on %.*s:%d\n",
		(int)(strrchr(s.cfg.listen, ':') - s.cfg.listen), s.cfg.listen, s.port);
	if (srv_lifecycle_start(&s) < 0) {
		fprintf(stderr, "modeld: cannot install signal handlers\n");
		srv_http_stop(&s);
		goto out_loop;
	}
	srv_reload(&s, &s.cfg);
	uv_run(s.loop, UV_RUN_DEFAULT);
	rc = s.exit_code;
out_loop:
	uv_run(s.loop, UV_RUN_DEFAULT); /* let closed handles finish */
	if (uv_loop_close(s.loop) != 0)
		fprintf(stderr, "modeld: loop closed with live handles\n");
out_log:
	srv_log_close(s.log);
	if (rc == 0)
		fprintf(stderr, "modeld: stopped\n");
out_args:
	free(s.cli_models);
	return rc;
}
