#!/usr/bin/env bash
# RUSTC_WRAPPER of scripts/fuzz.sh: compiles as asked, adding libFuzzer's
# comparison tracing to the crates AUTHENSOR_FUZZ_TRACED names (the policy
# core). Tracing every comparison of the dependencies (regex compilation,
# the YAML scanner) and of the harness (its counting allocator) too took
# about a third of each execution; the edges of all crates stay instrumented.
rustc=$1
shift
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    if [[ ${args[i]} == --crate-name && " ${AUTHENSOR_FUZZ_TRACED-} " == *" ${args[i + 1]} "* ]]; then
        exec "$rustc" "$@" -Cllvm-args=-sanitizer-coverage-trace-compares
    fi
done
exec "$rustc" "$@"
