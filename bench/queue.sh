#!/bin/sh
# Postgres job queue figures (claims/s, enqueue->claim latency: NOTIFY vs
# poll vs a naive 1-second loop); see bench/queue.pl.
# Usage: bench/queue.sh [JOBS] [LATENCY_SAMPLES]
exec perl "$(dirname "$0")/queue.pl" "$@"
