#!/bin/sh
# Conformance of the cnn fixture against PyTorch at every weight type:
# Conv/BatchNorm/ReLU/MaxPool blocks (padded and strided conv, a BatchNormalization node), opset 11.
MODEL=cnn
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
