# models/modelctl.mk: owned by its part of the tree
