# tests/graph.mk: owned by its part of the tree
