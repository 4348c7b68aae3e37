#!/bin/sh
# Conformance of the gru_cls fixture against PyTorch at every weight type:
# bidirectional GRU classifier (hidden 32: R is quantized), opset 14.
MODEL=gru_cls
# One of the six request sequences is far more sensitive than the rest: Q4_0
# rounding of the recurrent matrices, compounded over 10 steps, moves its
# logits by 0.0995 of the output scale in ideal weight-only quantization
# (make_fixtures.py --simulate; the other five stay <= 0.033), and modelctl
# measures 0.102 (0.104 with --weights expand): just over the 0.1.
TOL_q4_0=0.15
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
