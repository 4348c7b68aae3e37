# tests/codec.mk: unit tests of the predict JSON codec.
check_PROGRAMS += tests/unit/server/test_codec
TESTS += tests/unit/server/test_codec
tests_unit_server_test_codec_SOURCES = tests/unit/server/test_codec.c
tests_unit_server_test_codec_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_server_test_codec_LDADD = $(CODEC_LIBS) $(RUNTIME_LIBS)
