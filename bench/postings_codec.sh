#!/bin/sh
# Postings codecs on a real index's postings: size and decode speed; see
# bench/postings_codec.c. Usage: bench/postings_codec.sh INDEX
set -e
cd "$(dirname "$0")/.."
make -s build/bench/postings_codec
exec build/bench/postings_codec "$@"
