# Sourced by .ci/run: puts the PostgreSQL server binaries the consent-log tests need on this
# machine.
#   source .ci/postgres.sh
# The tests (tests/pg.py) start their own throwaway cluster with initdb/pg_ctl as the `postgres`
# user, on 127.0.0.1 and a free port, and remove it afterwards; nothing is started here. They use
# $CONSENTGATE_TEST_POSTGRES_URL instead when it is set, and fail (never skip) without a server.
# Idempotent; returns non-zero (and says why) when the packages cannot be installed.

cg_postgres_setup() {
    local found=""
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        found="$(command -v pg_ctl)"
    else
        found="$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | head -n 1 || true)"
    fi
    if [ -z "$found" ] || ! getent passwd postgres >/dev/null; then
        echo "postgres.sh: installing Debian postgresql" >&2
        apt-get update -qq || { echo "postgres.sh: apt-get update failed" >&2; return 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql >/dev/null \
            || { echo "postgres.sh: apt-get install postgresql failed" >&2; return 1; }
        found="$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | head -n 1 || true)"
        if [ -z "$found" ]; then
            echo "postgres.sh: postgresql installed but no pg_ctl found" >&2
            return 1
        fi
    fi
    echo "postgres.sh: using $("$found" --version)" >&2
}

cg_postgres_setup
