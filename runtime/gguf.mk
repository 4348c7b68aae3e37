# runtime/gguf.mk: owned by its part of the tree
