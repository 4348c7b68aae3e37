#!/bin/sh
# Conformance of the autoencoder fixture against PyTorch at every weight type:
# strided Conv encoder, ConvTranspose (output_padding) decoder, sigmoid, opset 17.
MODEL=autoencoder
. "${top_srcdir:-.}/tests/models/lib.sh"
models_check
