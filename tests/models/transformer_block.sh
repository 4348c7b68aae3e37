#!/bin/sh
# Conformance of the transformer_block fixture against PyTorch at every weight type:
# encoder block, opset 13: LayerNorm and GELU (Erf) arrive decomposed.
MODEL=transformer_block
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
