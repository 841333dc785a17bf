#!/usr/bin/env bash
# What `make test` must leave as it found it: the authensor files (library,
# control file, SQL scripts) in the machine's PostgreSQL installation, which
# `make install` writes and whose library every running cluster loads.
#   scripts/system-pg-unchanged.sh record FILE [PG_CONFIG]   their sha256 sums into FILE
#   scripts/system-pg-unchanged.sh check FILE [PG_CONFIG]    fails if they are not those in FILE
# PG_CONFIG is Debian's PostgreSQL 15 by default. An installation without
# authensor files (or without PostgreSQL) is recorded as such.
set -euo pipefail

command=${1:?usage: $0 record|check FILE [PG_CONFIG]} file=${2:?usage: $0 record|check FILE [PG_CONFIG]}
pg_config=${3:-/usr/lib/postgresql/15/bin/pg_config}

sums() {
    if [[ ! -x "$pg_config" ]]; then
        echo "no $pg_config"
        return
    fi
    local files
    shopt -s nullglob
    files=("$("$pg_config" --pkglibdir)"/authensor* "$("$pg_config" --sharedir)"/extension/authensor*)
    if ((${#files[@]})); then
        sha256sum "${files[@]}"
    else
        echo "no authensor files in $("$pg_config" --pkglibdir) or $("$pg_config" --sharedir)/extension"
    fi
}

case "$command" in
record)
    mkdir -p "$(dirname "$file")"
    sums >"$file"
    ;;
check)
    if ! sums | diff -u "$file" - >"$file.diff"; then
        echo "FAILED: the tests changed the authensor files of $pg_config's installation:" >&2
        cat "$file.diff" >&2
        exit 1
    fi
    library=$(grep -m1 '/authensor\.so$' "$file" || true)
    echo "$pg_config's installation is as the tests found it: $(grep -c '^[0-9a-f]\{64\} ' "$file" || true)" \
        "authensor files unchanged${library:+, authensor.so sha256 ${library%% *}}"
    ;;
*)
    echo "usage: $0 record|check FILE [PG_CONFIG]" >&2
    exit 2
    ;;
esac
