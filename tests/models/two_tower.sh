#!/bin/sh
# Conformance of the two_tower fixture against PyTorch at every weight type:
# user tower MLP, MatMul with a constant item matrix, TopK(10): scores and int64 indices.
MODEL=two_tower
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
