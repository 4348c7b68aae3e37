/* libmicrohttpd driven by the libuv loop: MHD runs in external mode with its
 * own epoll set, whose fd a uv_poll_t watches; a uv_timer_t honours
 * MHD_get_timeout. Requests wait suspended and are resumed when answered. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm.h"
#include "srv.h"

static const char srv__json_type[] = "application/json";

/* Queue r's answer on its connection. */
static void srv__req_send(srv_req *r)
{
	struct MHD_Response *resp =
		r->llm_stream ? srv_llm_stream_response(r)
			      : MHD_create_response_from_buffer(r->resp_len, r->resp,
								MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return;
	if (!r->llm_stream)
		r->resp = NULL; /* the response owns the body now; resp_len stays for the log */
	r->sent = 1;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->ctype ? r->ctype : srv__json_type);
	if (r->retry_after > 0) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%d", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
}

void srv_req_answer(srv_req *r, int status, char *body)
{
	free(r->resp);
	r->status = status;
	r->resp = body;
	r->resp_len = body ? strlen(body) : 0;
	if (!body) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
					  "memory\"}}";
		r->status = 500;
		r->resp = strdup(oom);
		r->resp_len = r->resp ? strlen(r->resp) : 0;
	}
	r->answered = 1;
	if (r->suspended) {
		r->suspended = 0;
		MHD_resume_connection(r->conn);
	} else {
		srv__req_send(r);
	}
}

void srv_req_error(srv_req *r, int status, const char *code, const char *fmt, ...)
{
	codec_error e;
	va_list ap;
	va_start(ap, fmt);
	e.status = status;
	snprintf(e.code, sizeof(e.code), "%s", code);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	snprintf(r->err_code, sizeof(r->err_code), "%s", code);
	if (status == 503 && r->retry_after == 0)
		r->retry_after = 1;
	srv_req_answer(r, status, codec_error_body(&e));
}

/* Dotted IPv4 text into out[16]: inet_ntop's result without its sprintf,
 * which showed in profiles at one call per request. */
static void srv__ipv4_text(const struct in_addr *a, char *out)
{
	const unsigned char *b = (const unsigned char *)&a->s_addr;
	char *p = out;
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

static void srv__client_addr(srv_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		srv__ipv4_text(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->client);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  r->client, sizeof(r->client));
}

/* Append a chunk of the body, refusing past max_body_bytes. */
static void srv__req_append(srv_req *r, const char *data, size_t n)
{
	size_t limit = (size_t)r->srv->cfg.max_body_bytes;
	if (r->too_large || n > limit - r->body_len) {
		r->too_large = 1;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 1024;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		char *nb = realloc(r->body, cap);
		if (!nb) {
			r->too_large = 1;
			return;
		}
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static enum MHD_Result srv__access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	srv *s = cls;
	srv_req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->srv = s;
		r->conn = conn;
		r->t_start = uv_hrtime();
		srv__client_addr(r);
		*con_cls = r;
		s->metrics.inflight++;
		if (srv_route_early(r, method, url))
			return MHD_YES;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
		if (n > (unsigned long long)s->cfg.max_body_bytes)
			r->too_large = 1;
		else if (n > 0 && (r->body = malloc((size_t)n + 1)) != NULL)
			r->body_cap = (size_t)n + 1; /* the body in one piece, no regrowth */
		return MHD_YES;
	}
	if (r->answered) {
		if (!r->sent && !r->suspended && *upload_data_size == 0)
			srv__req_send(r);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		srv__req_append(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_large) {
		srv_req_error(r, 413, "body_too_large", "request body exceeds %lld bytes",
			      (long long)s->cfg.max_body_bytes);
		return MHD_YES;
	}
	srv_route(r, method, url);
	if (!r->answered) {
		r->suspended = 1;
		MHD_suspend_connection(conn);
	}
	return MHD_YES;
}

/* src into dst[n], cut to fit (n > 0): snprintf's "%s" without the format
 * parsing, which showed in profiles at one log record per request. */
static void srv__copy(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Log and count a request once MHD is done with it. */
static void srv__completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	srv *s = cls;
	srv_req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	uint64_t now = uv_hrtime();
	double lat = (double)(now - r->t_start) / 1e9;
	double q = r->t_run ? (double)(r->t_run - r->t_queued) / 1e9 : 0;
	double inf = r->t_done ? (double)(r->t_done - r->t_run) / 1e9 : 0;
	if (r->answered) {
		srv_metrics_request(&s->metrics, r->model_name, r->status, lat, q, inf,
				    r->batch_size);
		if (r->inlined)
			srv_metrics_inline(&s->metrics, r->model_name);
		srv_log_record rec;
		memset(&rec, 0, sizeof(rec));
		uv_timeval64_t tv;
		uv_gettimeofday(&tv);
		rec.time_us = tv.tv_sec * 1000000 + tv.tv_usec;
		srv__copy(rec.model, sizeof(rec.model), r->model_name);
		srv__copy(rec.endpoint, sizeof(rec.endpoint), r->endpoint ? r->endpoint : "");
		rec.status = r->status;
		rec.latency_ms = lat * 1e3;
		rec.queue_ms = q * 1e3;
		rec.infer_ms = inf * 1e3;
		rec.batch_size = r->batch_size;
		rec.instances = r->in.batch;
		rec.bytes_in = (int64_t)r->body_len;
		rec.bytes_out = (int64_t)r->resp_len;
		srv__copy(rec.client, sizeof(rec.client), r->client);
		srv__copy(rec.error, sizeof(rec.error), r->err_code);
		if (r->llm)
			srv_llm_req_done(r, &rec);
		srv_log_submit(s->log, &rec);
	}
	if (r->llm)
		srv_llm_req_done(r, NULL);
	if (r->in.t) {
		if (r->v2_owned)
			srv_v2_inputs_free(&r->in);
		else
			codec_inputs_free(&r->in);
	}
	if (r->model)
		srv_model_unref(r->model);
	free(r->body);
	free(r->resp);
	free(r);
	s->metrics.inflight--;
	if (s->draining)
		srv_drain_check(s);
}

static void srv__arm_timer(srv *s);

void srv_http_run(srv *s)
{
	if (!s->mhd)
		return;
	s->run_preds = 0;
	MHD_run(s->mhd);
	s->last_run_preds = s->run_preds;
	srv__arm_timer(s);
}

static void srv__on_poll(uv_poll_t *h, int status, int events)
{
	srv_http_run(h->data);
}

static void srv__on_timer(uv_timer_t *t)
{
	srv_http_run(t->data);
}

static void srv__arm_timer(srv *s)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
		uv_timer_start(&s->mhd_timer, srv__on_timer, ms > 60000 ? 60000 : ms, 0);
	else
		uv_timer_stop(&s->mhd_timer);
}

/* Split "ADDR:PORT" (IPv6 as [ADDR]:PORT) into a socket address. */
static int srv__parse_listen(const char *listen, struct sockaddr_storage *ss, char *err,
			     size_t errlen)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	size_t hl = colon ? (size_t)(colon - listen) : 0;
	if (!colon || hl >= sizeof(host))
		goto bad;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || end == colon + 1)
		goto bad;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1)
			return 0;
		goto bad;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, hl ? host : "0.0.0.0", &a4->sin_addr) == 1)
		return 0;
bad:
	snprintf(err, errlen, "listen '%s': expected IPv4:PORT or [IPv6]:PORT", listen);
	return -1;
}

int srv_http_start(srv *s, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	if (srv__parse_listen(s->cfg.listen, &ss, err, errlen) < 0)
		return -1;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, srv__access, s, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.connection_timeout_s,
		MHD_OPTION_NOTIFY_COMPLETED, srv__completed, s, MHD_OPTION_LISTEN_BACKLOG_SIZE,
		(unsigned)1024, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)s->cfg.connection_memory_bytes, MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "cannot listen on %s", s->cfg.listen);
		return -1;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = pi ? pi->port : 0;
	if (!di || uv_poll_init(s->loop, &s->mhd_poll, di->epoll_fd) < 0) {
		snprintf(err, errlen, "cannot watch the HTTP epoll fd");
		MHD_stop_daemon(s->mhd);
		s->mhd = NULL;
		return -1;
	}
	s->mhd_poll.data = s;
	uv_poll_start(&s->mhd_poll, UV_READABLE, srv__on_poll);
	uv_timer_init(s->loop, &s->mhd_timer);
	s->mhd_timer.data = s;
	srv__arm_timer(s);
	return 0;
}

void srv_http_quiesce(srv *s)
{
	if (!s->mhd)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void srv_http_stop(srv *s)
{
	if (!s->mhd)
		return;
	uv_poll_stop(&s->mhd_poll);
	uv_close((uv_handle_t *)&s->mhd_poll, NULL);
	uv_close((uv_handle_t *)&s->mhd_timer, NULL);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
}
