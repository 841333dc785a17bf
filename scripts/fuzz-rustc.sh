#!/usr/bin/env bash
# RUSTC_WRAPPER of scripts/fuzz.sh: compiles as asked, adding libFuzzer's
# instrumentation by crate. The crates AUTHENSOR_FUZZ_COVERED names (the
# code under test and the harness) get AUTHENSOR_FUZZ_SANCOV, the edge
# counters that steer the fuzzer; of those, the crates AUTHENSOR_FUZZ_TRACED
# names (the policy core) also get comparison tracing. Other dependencies
# (regex compilation above all) run for every input but do not steer:
# counting their edges made the fuzzer dwell on inputs that explore
# regex-syntax itself (Unicode case folding took 40 % of compile_bytes), and
# tracing their comparisons cost about a third of each execution.
rustc=$1
shift
args=("$@")
crate=
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    [[ ${args[i]} == --crate-name ]] && crate=${args[i + 1]}
done
flags=()
if [[ -n $crate && " ${AUTHENSOR_FUZZ_COVERED-} " == *" $crate "* ]]; then
    read -ra flags <<<"${AUTHENSOR_FUZZ_SANCOV-}"
    if [[ " ${AUTHENSOR_FUZZ_TRACED-} " == *" $crate "* ]]; then
        flags+=(-Cllvm-args=-sanitizer-coverage-trace-compares)
    fi
fi
exec "$rustc" "$@" "${flags[@]}"
