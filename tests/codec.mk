# tests/codec.mk: owned by its part of the tree
