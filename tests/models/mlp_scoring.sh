#!/bin/sh
# Conformance of the mlp_scoring fixture against PyTorch at every weight type:
# 256-1024-512-256-1 scoring MLP with sigmoid output, opset 13.
MODEL=mlp_scoring
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
