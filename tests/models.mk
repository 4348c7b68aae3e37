# tests/models.mk: owned by its part of the tree
