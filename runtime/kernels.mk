# runtime/kernels.mk: owned by its part of the tree
