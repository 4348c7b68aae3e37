# models/modelctl.mk: the modelctl command-line tool.
bin_PROGRAMS += models/modelctl
models_modelctl_SOURCES = models/modelctl.c models/modelctl.h models/modelctl_inspect.c \
	models/modelctl_run.c
models_modelctl_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
models_modelctl_LDADD = models/libconvert.a $(CODEC_LIBS) $(RUNTIME_LIBS)

# End to end on a converted fixture (uses tests/tools/json_compare).
TESTS += tests/unit/models/test_modelctl.sh
EXTRA_DIST += tests/unit/models/test_modelctl.sh
