#!/usr/bin/env bash
# Stops what scripts/demo.sh left running.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${RAG_DEMO_DIR:-$ROOT/demo-run}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -f "$RUN/nginx/nginx.pid" ] && nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -s quit 2>/dev/null
if [ -f "$RUN/pg/data/PG_VERSION" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pg/data" -m fast stop
    else
        "$PGBIN/pg_ctl" -D "$RUN/pg/data" -m fast stop
    fi
fi
echo "demo stopped (data kept in $RUN; rm -rf it to start afresh)"
