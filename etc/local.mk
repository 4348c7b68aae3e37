# etc/ and systemd/: shipped as examples
