# Unit tests of the daemon's config, notify and metrics modules
check_PROGRAMS += tests/unit/server/test_config
TESTS += tests/unit/server/test_config
tests_unit_server_test_config_SOURCES = tests/unit/server/test_config.c server/config.c \
	server/srv_config.h
