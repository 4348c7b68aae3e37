#!/bin/sh
# Conformance of the embedding fixture against PyTorch at every weight type:
# int64 id inputs -> Gather -> ReduceMean, concat with dense input, MLP; multi-input request.
MODEL=embedding
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
