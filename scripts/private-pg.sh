#!/usr/bin/env bash
# A private copy of the machine's PostgreSQL installation (Debian's 15 by
# default), for the tests: `make test` installs its debug builds into the
# copy, never into the installation that `make install` and running clusters
# use. PostgreSQL finds its lib and share directories relative to its
# programs, so the copy mirrors the installation's absolute paths under
# target/pg15 (e.g. target/pg15/usr/lib/postgresql/15/bin) and its pg_config
# prints the private paths.
#
# It holds the programs, the lib and share directories (pg_regress,
# pg_isolation_regress, pg_cron, ...) and the server headers, without any
# authensor files. cargo-pgrx finds it through a config of its own,
# target/pg15/pgrx/config.toml, for `PGRX_HOME=target/pg15/pgrx cargo pgrx test`.
#
# Usage: scripts/private-pg.sh [PG_CONFIG]     prints the copy's pg_config last
# Idempotent: the copy is made again only when the installation has changed
# (a package upgrade). Runs as root; the copy is readable by the postgres OS
# user, who runs the servers.
set -euo pipefail

pg_config=${1:-/usr/lib/postgresql/15/bin/pg_config}
root=$(cd "$(dirname "$0")/.." && pwd)
major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
dest=$("$root/scripts/scratch-dir.sh")/pg$major
dirs=(
    "$("$pg_config" --bindir)"
    "$("$pg_config" --pkglibdir)"
    "$("$pg_config" --sharedir)"
    "$("$pg_config" --includedir-server)"
)
copy=$dest$("$pg_config" --bindir)/pg_config

# Every file's name, size and time, but authensor's own, which `make install`
# rewrites without changing the installation the tests need (nor directories,
# whose times change with it).
state=$(
    "$pg_config" --version
    find "${dirs[@]}" -name 'authensor*' -prune -o ! -type d -printf '%p %s %T@\n' | sort | md5sum
)
if [[ "$(cat "$dest/.copied" 2>/dev/null)" != "$state" ]] || ! "$copy" --version >/dev/null 2>&1; then
    echo "==> private copy of $("$pg_config" --version) in $dest" >&2
    # All but cargo-pgrx's config: rewriting it would make Cargo run pgrx's
    # build script, and rebuild everything above it, again.
    mkdir -p "$dest"
    find "$dest" -mindepth 1 -maxdepth 1 ! -name pgrx -exec rm -rf {} +
    tar -C / -cf - --exclude='authensor*' "${dirs[@]#/}" | tar -C "$dest" -xf -
    chmod go+rx "$dest"
    echo "$state" >"$dest/.copied"
fi

# The copy's pg_config must place everything in the copy: a build whose
# pg_config is not relocatable would otherwise install into the original.
for option in bindir pkglibdir sharedir includedir-server; do
    path=$("$copy" --$option)
    if [[ "$path" != "$dest/"* ]]; then
        echo "private-pg.sh: $copy --$option prints $path, outside $dest: $pg_config is not relocatable" >&2
        exit 1
    fi
done

# cargo-pgrx's config for the tests: this major is the copy.
export PGRX_HOME=$dest/pgrx
mkdir -p "$PGRX_HOME"
if ! grep -qsx "pg$major = \"$copy\"" "$PGRX_HOME/config.toml"; then
    cargo pgrx init "--pg$major" "$copy" >/dev/null
fi
echo "$copy"
