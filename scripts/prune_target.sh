#!/usr/bin/env bash
# Removes this package's own build artifacts that the current build did not write from a
# shared CARGO_TARGET_DIR (CI keeps one under ~/.cache between runs on clean clones).
#
# Every clean clone sits at a new path, so cargo builds the package's library, binary, tests
# and examples again under new hashes and never reads the old ones: about 1.5 GB a run (the test
# binaries link libtorch) that nothing would ever delete, until the disk is full. Third-party
# crates are left alone (they are shared and reused). Usage:
#   scripts/prune_target.sh MARKER   deletes what is older than the file MARKER
# (CI touches MARKER before it builds). Set KAIROS_PRUNE_DRY=1 to list instead of delete.
set -euo pipefail
cd "$(dirname "$0")/.."
marker="${1:?usage: prune_target.sh MARKER (a file touched before the build)}"
[ -e "$marker" ] || { echo "prune_target: no marker $marker" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
# The package's artifact names: the library and binary, each test and example target (but
# none that a third-party crate shares: those artifacts are reused, not rebuilt).
names="kairos"
for f in tests/*.rs examples/*.rs; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .rs)
    if grep -qxE "name = \"(${n}|${n//_/-})\"" Cargo.lock 2>/dev/null; then
        continue
    fi
    names="$names|$n"
done
pattern="^(lib)?($names)-[0-9a-f]{16}"
removed=0
for profile in debug release; do
    for sub in deps incremental examples .fingerprint build; do
        dir="$target/$profile/$sub"
        [ -d "$dir" ] || continue
        while IFS= read -r -d '' path; do
            base=$(basename "$path")
            [[ "$base" =~ $pattern ]] || continue
            if [ -n "${KAIROS_PRUNE_DRY:-}" ]; then
                echo "would remove $path"
            else
                rm -rf -- "$path"
            fi
            removed=$((removed + 1))
        done < <(find "$dir" -mindepth 1 -maxdepth 1 ! -newer "$marker" -print0)
    done
done
echo "prune_target: $removed stale artifacts of this package in $target"
