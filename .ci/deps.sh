#!/bin/sh
# Installs the Debian 12 packages ngx_rag builds, runs and tests with.
# Idempotent; needs root (CI and the README's commands run as root).
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
      nginx nginx-dev
      libcurl4-openssl-dev libyajl-dev libpq-dev libssl-dev libwslay-dev
      libxml2-dev libzstd-dev libstreamvbyte-dev libstemmer-dev fasttext
      postgresql postgresql-contrib postgresql-doc-15
      python3-doc python-django-doc git-doc mkdocs-doc
      perl libio-socket-ssl-perl
      curl wrk valgrind chromium fonts-dejavu-core
      debhelper dpkg-dev lintian adduser lcov clang-format"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing:$missing (run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx's postinst starts a system nginx on :80; we never use it
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if command -v systemctl >/dev/null 2>&1; then
        systemctl stop nginx >/dev/null 2>&1 || true
    fi
    service nginx stop >/dev/null 2>&1 || true
fi
echo "deps: ok"
