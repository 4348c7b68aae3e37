# server/server.mk: owned by its part of the tree
