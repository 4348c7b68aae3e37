# tests/e2e.mk: owned by its part of the tree
