# Unit tests of the daemon's config, notify and metrics modules
