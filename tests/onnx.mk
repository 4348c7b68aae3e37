# tests/onnx.mk: owned by its part of the tree
