#!/bin/sh
# Conformance of the mlp_small fixture against PyTorch at every weight type:
# 10-128-64-1 ReLU MLP (Gemm, Relu), opset 13.
MODEL=mlp_small
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
