#!/bin/sh
# The in-process semantic leg on a collection's index: training time and
# peak memory, model and index size, query embedding and search latency;
# see bench/semantic.c. Usage: bench/semantic.sh IN.idx OUT.idx [options]
set -e
cd "$(dirname "$0")/.."
make -s build/librag.a
out=build/bench-semantic
cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Ilib -Iworker -o "$out" bench/semantic.c \
    worker/ft_train.c build/librag.a -lyajl -lzstd -lpthread -lm
exec "$out" "$@"
