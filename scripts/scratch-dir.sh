#!/usr/bin/env bash
# Prints the directory for scratch clusters and test data: target/ of this
# checkout, or, when the postgres OS user cannot reach it (a checkout under a
# home directory closed to others), a directory of its own under /tmp.
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/target"
if runuser -u postgres -- test -x "$root/target" 2>/dev/null; then
    echo "$root/target"
else
    echo "/tmp/authensor-scratch-$(printf '%s' "$root" | md5sum | cut -c1-8)"
fi
