#!/bin/sh
# Conformance of the lstm_cls fixture against PyTorch at every weight type:
# 2-layer batch-first LSTM classifier (LSTM plus the exporter's shape ops), opset 13.
MODEL=lstm_cls
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
