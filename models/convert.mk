# models/convert.mk: owned by its part of the tree
