#!/usr/bin/env bash
# Installs what building and testing authensor needs on Debian 12 with
# PostgreSQL 15, skipping whatever is already present. Runs as root.
# PG=16 or PG=18 also installs that PostgreSQL major for cargo-pgrx
# (scripts/install-pg-major.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG=${PG:-15}
# The pg15 entry of cargo-pgrx's config stays Debian's (or PG_CONFIG with PG=15).
case "$PG" in
15) PG15_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config} ;;
16 | 18) PG15_CONFIG=/usr/lib/postgresql/15/bin/pg_config ;;
*)
    echo "install-deps.sh: PG=$PG: authensor builds against PostgreSQL 15, 16 and 18" >&2
    exit 2
    ;;
esac
PGRX_VERSION=0.18.1
# clang: pgrx's bindings, and clang++ for libFuzzer's C++ (scripts/fuzz.sh).
PACKAGES=(postgresql-server-dev-15 libclang-dev clang sudo pgbouncer postgresql-15-cron python3-yaml)

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# psycopg 3 sends bind parameters: tests/clients checks that API keys stay
# out of statement text.
if ! python3 -c 'import psycopg' 2>/dev/null; then
    echo "==> pip install psycopg 3"
    python3 -m pip install --quiet --root-user-action=ignore "psycopg[binary]==3.2.10"
fi

if [[ "$(cargo pgrx --version 2>/dev/null)" != "cargo-pgrx $PGRX_VERSION" ]]; then
    echo "==> cargo install cargo-pgrx $PGRX_VERSION (a few minutes, once)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi

PGRX_CONFIG=${PGRX_HOME:-$HOME/.pgrx}/config.toml
# pgrx's build checks every pg_config its config names, so an entry left by
# a checkout since deleted breaks every build: forget such entries (the
# major is registered again when PG= asks for it).
if [[ -f "$PGRX_CONFIG" ]]; then
    while IFS= read -r line; do
        path=${line#*= \"} path=${path%\"}
        if [[ ! -x "$path" ]]; then
            echo "==> forgetting $line: no such pg_config"
            grep -vxF "$line" "$PGRX_CONFIG" >"$PGRX_CONFIG.new" || true
            mv "$PGRX_CONFIG.new" "$PGRX_CONFIG"
        fi
    done < <(grep -E '^pg[0-9]+ = "' "$PGRX_CONFIG")
fi
if ! grep -qs "^pg15 = \"$PG15_CONFIG\"" "$PGRX_CONFIG"; then
    echo "==> cargo pgrx init --pg15 $PG15_CONFIG"
    cargo pgrx init --pg15 "$PG15_CONFIG" >/dev/null
fi

if [[ $PG != 15 ]]; then
    "$root/scripts/install-pg-major.sh" "$PG" >/dev/null
fi
