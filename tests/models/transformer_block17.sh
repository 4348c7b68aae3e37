#!/bin/sh
# Conformance of the transformer_block17 fixture against PyTorch at every weight type:
# the same encoder block at opset 17: one LayerNormalization node per norm.
MODEL=transformer_block17
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
