# The shipped demo chat model and the files that made it.
EXTRA_DIST += models/chat.gguf models/demo/make_chat.py models/demo/gguf_writer.py \
	models/demo/CHAT.md models/demo/chat.expected.json
check_PROGRAMS += tests/unit/models/test_chat_demo
TESTS += tests/unit/models/test_chat_demo
tests_unit_models_test_chat_demo_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_models_test_chat_demo_LDADD = $(RUNTIME_LIBS) $(JANSSON_LIBS)
