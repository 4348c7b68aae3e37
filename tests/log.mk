# The SQLite request log (server/log.c) on its own.
check_PROGRAMS += tests/unit/server/test_log
TESTS += tests/unit/server/test_log
tests_unit_server_test_log_SOURCES = tests/unit/server/test_log.c server/log.c server/log.h
tests_unit_server_test_log_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_server_test_log_LDADD = $(SQLITE_LIBS)
