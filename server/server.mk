# server/server.mk: the modeld daemon.
bin_PROGRAMS += server/modeld
server_modeld_SOURCES = server/srv.h server/srv_config.h server/config.c server/main.c \
	server/http.c server/router.c server/registry.c server/batcher.c server/metrics.c \
	server/v2.c server/notify.c server/lifecycle.c server/log.c server/log.h \
	server/predict_fast.c server/predict_fast.h server/batch_policy.c \
	server/llm.h server/llm_sched.c server/llm_api.c server/llm_tools.c server/token_trie.c \
	server/token_trie.h server/json_schema.c server/json_schema.h server/tojson.c \
	server/tojson.h server/strbuf.h server/reasoning.c server/reasoning.h
server_modeld_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(UV_CFLAGS) $(SQLITE_CFLAGS) \
	$(JANSSON_CFLAGS) $(OPENBLAS_CFLAGS)
server_modeld_LDADD = $(CODEC_LIBS) $(RUNTIME_LIBS) $(MHD_LIBS) $(UV_LIBS) $(SQLITE_LIBS)
