#!/bin/sh
# End-to-end: nginx from etc/nginx/modeld.conf in front of two modeld
# instances; see tests/e2e/nginx.mjs. Skipped when nginx is not installed.
NGINX=$(command -v nginx 2>/dev/null)
[ -z "$NGINX" ] && [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx
[ -n "$NGINX" ] || { echo "SKIP: nginx not installed (apt-get install nginx-light)"; exit 77; }
export NGINX
. "${top_srcdir:-.}/tests/e2e/run.sh"
