#!/bin/sh
# Conformance of the gru_cls fixture against PyTorch at every weight type:
# bidirectional GRU classifier (hidden 32: R is quantized), opset 14.
MODEL=gru_cls
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
