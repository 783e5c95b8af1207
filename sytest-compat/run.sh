#!/usr/bin/env bash
# Runs SyTest against this homeserver and summarises the result.
#
#   SYTEST_DIR=/path/to/sytest NAHS_LIB=/path/to/Net-Async-HTTP-Server-0.07/lib \
#       sytest-compat/run.sh [--shards N] [test files relative to SYTEST_DIR ...]
#
# Writes sytest-compat/results/{results.tap,summary.txt,server logs}. See README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
shards=1
if [[ ${1:-} == --shards ]]; then
    shards=$2
    shift 2
fi

: "${SYTEST_DIR:?set SYTEST_DIR to a checkout of matrix-org/sytest}"
python=${HOMESERVER_PYTHON:-$root/.venv/bin/python}
results=${SYTEST_RESULTS:-$here/results}
mkdir -p "$results"

if [[ ! -x $python ]] || ! "$python" -c 'import homeserver' 2>/dev/null; then
    python3 -m venv "$root/.venv"
    "$root/.venv/bin/pip" install -q -e "$root"
    python=$root/.venv/bin/python
fi

perl_includes=(-I "$here/perl/lib")
if [[ -n ${NAHS_LIB:-} ]]; then
    perl_includes+=(-I "$NAHS_LIB")
fi
missing=()
for module in IO::Async Net::Async::HTTP Future JSON YAML::XS DBD::Pg Struct::Dumb List::UtilsBy \
    Email::MIME Email::Address::XS File::Slurper Data::Dump Class::Method::Modifiers \
    IO::Async::SSL Net::SSLeay Module::Pluggable Digest::HMAC URI HTTP::Message IO::Socket::SSL \
    CryptX Net::Async::HTTP::Server; do
    perl "${perl_includes[@]}" -M"$module" -e 1 2>/dev/null || missing+=("$module")
done
if ((${#missing[@]})); then
    echo "missing Perl modules: ${missing[*]}" >&2
    echo "see sytest-compat/README.md (Debian packages, and NAHS_LIB for Net::Async::HTTP::Server)" >&2
    exit 2
fi

cd "$SYTEST_DIR"
whole_suite=()
if (($# == 0)); then
    # Everything but the fixtures, which SyTest loads by itself.
    mapfile -t files < <(find tests -name '*.pl' ! -path 'tests/0*' | sort)
    whole_suite=(--require-all)
else
    # run-tests.pl takes test files only: a directory stands for the files in it.
    files=()
    for arg in "$@"; do
        if [[ -d $arg ]]; then
            mapfile -t -O "${#files[@]}" files < <(find "$arg" -name '*.pl' | sort)
        else
            files+=("$arg")
        fi
    done
fi

# Tests of the deprecated /events and /initialSync APIs, and fixtures using them, are left
# out unless SYTEST_DEPRECATED=1.
deprecated=(--exclude-deprecated)
if [[ ${SYTEST_DEPRECATED:-0} == 1 ]]; then
    deprecated=()
fi

run_shard() {
    local shard=$1
    shift
    local first=$((8800 + shard * 100))
    # SyTest resolves its server directories with abs_path, which needs this to exist.
    mkdir -p "$results/server-logs-$shard"
    SYTEST_PLUGINS="$here/plugins" HOMESERVER_PYTHON="$python" \
    HOMESERVER_SYTEST_DB_PREFIX="sytest_homeserver_s$shard" \
    TIMEOUT_FACTOR=${TIMEOUT_FACTOR:-2} \
        perl "${perl_includes[@]}" -MNet::Async::HTTP::ServerCompat ./run-tests.pl \
        -I PythonHomeserver --room-version "${SYTEST_ROOM_VERSION:-10}" -O tap --all \
        "${deprecated[@]}" \
        --port-range "$first:$((first + 99))" --work-directory "$results/server-logs-$shard" \
        "$@" >"$results/shard-$shard.tap" 2>"$results/shard-$shard.log" || true
}

pids=()
for ((shard = 0; shard < shards; shard++)); do
    mine=()
    for ((i = shard; i < ${#files[@]}; i += shards)); do
        mine+=("${files[i]}")
    done
    run_shard "$shard" "${mine[@]}" &
    pids+=($!)
done
wait "${pids[@]}"

cat "$results"/shard-*.tap >"$results/results.tap"
"$python" "$here/summarise.py" --sytest-dir "$SYTEST_DIR" "$results/results.tap" |
    tee "$results/summary.txt"
"$python" "$here/summarise.py" --check-whitelist "$here/whitelist.txt" "${whole_suite[@]}" \
    "$results/results.tap"
