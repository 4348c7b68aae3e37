# Model conformance: PyTorch fixtures converted by modelctl at every weight
# type and compared with PyTorch's answers (tests/models/lib.sh); the
# json_compare tool and the fixture files.

check_PROGRAMS += tests/tools/json_compare
tests_tools_json_compare_SOURCES = tests/tools/json_compare.c
tests_tools_json_compare_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
tests_tools_json_compare_LDADD = $(JANSSON_LIBS) -lm

MODEL_TESTS = tests/models/mlp_small.sh tests/models/mlp_scoring.sh tests/models/cnn.sh \
	tests/models/lstm_cls.sh tests/models/gru_cls.sh tests/models/autoencoder.sh \
	tests/models/embedding.sh tests/models/two_tower.sh tests/models/transformer_block.sh \
	tests/models/transformer_block17.sh tests/models/demo.sh
TESTS += $(MODEL_TESTS)
EXTRA_DIST += $(MODEL_TESTS) tests/models/lib.sh tests/fixtures/make_fixtures.py

# One name a line: the ONNX file, the request body and PyTorch's answer.
EXTRA_DIST += \
	tests/fixtures/models/mlp_small.onnx \
	tests/fixtures/models/mlp_small.request.json \
	tests/fixtures/models/mlp_small.expected.json \
	tests/fixtures/models/mlp_scoring.onnx \
	tests/fixtures/models/mlp_scoring.request.json \
	tests/fixtures/models/mlp_scoring.expected.json \
	tests/fixtures/models/cnn.onnx \
	tests/fixtures/models/cnn.request.json \
	tests/fixtures/models/cnn.expected.json \
	tests/fixtures/models/lstm_cls.onnx \
	tests/fixtures/models/lstm_cls.request.json \
	tests/fixtures/models/lstm_cls.expected.json \
	tests/fixtures/models/gru_cls.onnx \
	tests/fixtures/models/gru_cls.request.json \
	tests/fixtures/models/gru_cls.expected.json \
	tests/fixtures/models/autoencoder.onnx \
	tests/fixtures/models/autoencoder.request.json \
	tests/fixtures/models/autoencoder.expected.json \
	tests/fixtures/models/embedding.onnx \
	tests/fixtures/models/embedding.request.json \
	tests/fixtures/models/embedding.expected.json \
	tests/fixtures/models/two_tower.onnx \
	tests/fixtures/models/two_tower.request.json \
	tests/fixtures/models/two_tower.expected.json \
	tests/fixtures/models/transformer_block.onnx \
	tests/fixtures/models/transformer_block.request.json \
	tests/fixtures/models/transformer_block.expected.json \
	tests/fixtures/models/transformer_block17.onnx \
	tests/fixtures/models/transformer_block17.request.json \
	tests/fixtures/models/transformer_block17.expected.json

# The demo models shipped in models/ (made by models/demo/make_demo.py and
# `make demo-models`; see models/demo/README.md).
EXTRA_DIST += models/regression.gguf models/digits.gguf \
	models/demo/README.md models/demo/make_demo.py \
	models/demo/regression.onnx models/demo/regression.request.json \
	models/demo/regression.expected.json \
	models/demo/digits.onnx models/demo/digits.request.json models/demo/digits.expected.json

# Rebuild the demo model files from their ONNX files (into the build tree).
demo-models: models/modelctl$(EXEEXT)
	$(MKDIR_P) models
	models/modelctl$(EXEEXT) convert $(srcdir)/models/demo/regression.onnx \
		models/regression.gguf --quant f32
	models/modelctl$(EXEEXT) convert $(srcdir)/models/demo/digits.onnx \
		models/digits.gguf --quant f32
.PHONY: demo-models
