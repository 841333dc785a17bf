#!/usr/bin/env bash
# `make fuzz`: coverage-guided fuzzing of the policy core (fuzz/) with
# libFuzzer on stable Rust, for FUZZ_SECONDS (600 by default), the three
# targets side by side (compile_bytes on a core of its own). Writes the "Fuzzing" section
# of RELIABILITY.md (or of FUZZ_REPORT; none if FUZZ_REPORT is empty) and,
# with FUZZ_UPDATE_CORPUS=1 (the default), merges the corpus it ends with,
# minimised, back into fuzz/corpus. Exits non-zero if anything was found;
# the findings' inputs stay under target/fuzz/run/findings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-600}
report=${FUZZ_REPORT-$root/RELIABILITY.md}
update_corpus=${FUZZ_UPDATE_CORPUS:-1}
out=$(scripts/scratch-dir.sh)/fuzz
run=$out/run
targets=(compile_bytes mutate_policy decide_values)
triple=$(rustc -vV | sed -n 's/^host: //p')

# libFuzzer's instrumentation from rustc's stable sancov pass (what
# cargo-fuzz passes, less its nightly-only sanitizer flag), by crate through
# scripts/fuzz-rustc.sh: edge counters in the code under test (the policy
# core and the YAML reader it uses) and the harness, comparison tracing in
# the policy core only. Debug assertions and overflow checks are on in the
# policy core and the harness (fuzz/Cargo.toml's profile). Cargo does not
# see the wrapper's choices: after changing them, remove $out/build.
rustflags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
rustflags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
rustflags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
covered="authensor_policy serde_yaml unsafe_libyaml authensor_fuzz ${targets[*]}"
traced="authensor_policy"
echo "==> building the fuzz targets (fuzz/, into $out/build)"
# --target keeps the flags off build scripts and proc macros; libFuzzer's
# C++ sources are built by libfuzzer-sys with clang++ (scripts/install-deps.sh).
CXX=${CXX:-clang++} RUSTFLAGS="--cfg fuzzing" RUSTC_WRAPPER=$root/scripts/fuzz-rustc.sh \
    AUTHENSOR_FUZZ_SANCOV=$rustflags AUTHENSOR_FUZZ_COVERED=$covered AUTHENSOR_FUZZ_TRACED=$traced cargo build --manifest-path fuzz/Cargo.toml \
    --release --target "$triple" --target-dir "$out/build" --bins
bin=$out/build/$triple/release

corpus_files() { # files and bytes of a directory, as JSON
    find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{n++; s+=$1} END {printf "[%d, %d]", n, s}'
}
rm -rf "$run"
mkdir -p "$run"
# compile_bytes' inputs are policies of at most 4 KiB (twice the tight
# limits' max_source_bytes): 8 KiB gave 30 % fewer executions for the same
# coverage; mutate_policy reaches the size limits through aliases.
declare -A max_len=([compile_bytes]=4096 [mutate_policy]=512 [decide_values]=16384)
declare -A extra=([compile_bytes]="-dict=$root/fuzz/policy.dict" [mutate_policy]="" [decide_values]="")
# -reload=0: each target's corpus directory is its own, so rereading it
# every second for what other processes found (libFuzzer's default) only
# cost time, about 2 % of compile_bytes'.
libfuzzer_flags="-timeout=10 -rss_limit_mb=2048 -reload=0, -max_len 4096 (compile_bytes), 512 (mutate_policy) and 16384 (decide_values)"
corpus_start="{"
for t in "${targets[@]}"; do
    mkdir -p "$run/corpus/$t" "$run/findings/$t" "fuzz/corpus/$t"
    cp -r "fuzz/corpus/$t/." "$run/corpus/$t/"
    corpus_start+="\"$t\": $(corpus_files "fuzz/corpus/$t"), "
    # Each target writes its seeds (the fixtures and the language examples).
    AUTHENSOR_FUZZ_SEEDS=$run/seeds AUTHENSOR_FUZZ_OUT=$run/seeding "$bin/$t" -runs=0 >/dev/null 2>&1
done
corpus_start="${corpus_start%, }}"

# Where each target runs: compile_bytes, the cheapest per input and the
# widest in reach (raw bytes through the YAML reader, the compiler and
# decide()), on a core of its own; mutate_policy and decide_values, each
# about ten times dearer per input, on the others.
mapfile -t allowed < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)), sep="\n")')
declare -A cpus=()
if ((${#allowed[@]} >= 2)); then
    others=$(IFS=,; echo "${allowed[*]:1}")
    rest="other core"
    ((${#allowed[@]} > 2)) && rest="other $((${#allowed[@]} - 1)) cores"
    cpus=([compile_bytes]=${allowed[0]} [mutate_policy]=$others [decide_values]=$others)
    placement_short="compile_bytes on a core of its own, the other two sharing the $rest"
    placement="compile_bytes, the cheapest per input and the widest in reach (raw bytes through the YAML reader, the compiler and decide()), has a core of its own; mutate_policy and decide_values, each about ten times dearer per input, share the $rest (\`taskset\`)."
else
    placement_short="on one core"
    placement="The three targets share the one core."
fi

fuzz_one() { # target: libFuzzer until the deadline, restarted if it stops
    local t=$1 deadline=$((SECONDS + seconds)) starts=0 pin=()
    [[ -n ${cpus[$t]-} ]] && pin=(taskset -c "${cpus[$t]}")
    while ((SECONDS < deadline && starts < 100)); do
        starts=$((starts + 1))
        # shellcheck disable=SC2086
        AUTHENSOR_FUZZ_OUT=$run/findings "${pin[@]}" "$bin/$t" -max_total_time=$((deadline - SECONDS)) \
            -timeout=10 -rss_limit_mb=2048 -reload=0 -max_len="${max_len[$t]}" -print_final_stats=1 \
            -artifact_prefix="$run/findings/$t/" ${extra[$t]} "$run/corpus/$t" "$run/seeds/$t" \
            >>"$run/$t.log" 2>&1 || sleep 1
    done
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "==> fuzzing ${targets[*]} for $seconds s (logs in $run)"
for t in "${targets[@]}"; do
    fuzz_one "$t" &
done
wait
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

corpus_dir=$run/corpus
if [[ $update_corpus == 1 ]]; then
    echo "==> minimising the corpus into fuzz/corpus"
    for t in "${targets[@]}"; do
        rm -rf "$run/merged/$t"
        mkdir -p "$run/merged/$t"
        AUTHENSOR_FUZZ_OUT=$run/merging "$bin/$t" -merge=1 -max_len="${max_len[$t]}" \
            "$run/merged/$t" "$run/corpus/$t" >"$run/$t.merge.log" 2>&1
        find "fuzz/corpus/$t" -type f -delete
        cp "$run/merged/$t/." "fuzz/corpus/$t/" -r
    done
    corpus_dir=$root/fuzz/corpus
fi

libfuzzer_sys=$(sed -n '/^name = "libfuzzer-sys"/{n;s/^version = "\(.*\)"/\1/p}' fuzz/Cargo.lock)
targets_json=$(printf '"%s", ' "${targets[@]}")
cat >"$run/settings.json" <<JSON
{"seconds": $seconds, "targets": [${targets_json%, }], "rustflags": "$rustflags", "covered": "$covered", "traced": "$traced",
 "placement": "$placement", "placement_short": "$placement_short",
 "libfuzzer_flags": "$libfuzzer_flags", "libfuzzer_sys": "$libfuzzer_sys",
 "load_before": "$load_before", "load_after": "$load_after",
 "corpus_start": $corpus_start, "corpus_dir": "$corpus_dir"}
JSON
python3 fuzz/report.py "$run" "$run/settings.json" ${report:+"$report"}
