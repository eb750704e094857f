#!/bin/sh
# Postings codecs on a real index's postings: size and decode speed; see
# bench/postings_codec.c. Usage: bench/postings_codec.sh INDEX
set -e
cd "$(dirname "$0")/.."
make -s build/librag.a
out=build/bench-postings-codec
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Ilib -o "$out" bench/postings_codec.c \
    build/librag.a -lstreamvbyte -lzstd -lpthread -lm
exec "$out" "$@"
