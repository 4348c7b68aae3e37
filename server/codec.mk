# server/codec.mk: the JSON codec shared by the daemon and modelctl.
server_libcodec_a_SOURCES += server/codec.c
