# Unit tests of the daemon's config, notify and metrics modules
check_PROGRAMS += tests/unit/server/test_config
TESTS += tests/unit/server/test_config
tests_unit_server_test_config_SOURCES = tests/unit/server/test_config.c server/config.c \
	server/srv_config.h

check_PROGRAMS += tests/unit/server/test_notify
TESTS += tests/unit/server/test_notify
tests_unit_server_test_notify_SOURCES = tests/unit/server/test_notify.c server/notify.c
tests_unit_server_test_notify_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(UV_CFLAGS) \
	$(JANSSON_CFLAGS) $(SQLITE_CFLAGS)
