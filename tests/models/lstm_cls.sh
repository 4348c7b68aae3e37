#!/bin/sh
# Conformance of the lstm_cls fixture against PyTorch at every weight type:
# 2-layer batch-first LSTM classifier (LSTM plus the exporter's shape ops), opset 13.
MODEL=lstm_cls
# Ideal weight-only quantization of the final Linear alone measures q4_0
# 0.183 (make_fixtures.py --simulate), above the default 0.1.
TOL_q4_0=0.3
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
