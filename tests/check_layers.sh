#!/bin/sh
# The allocator's layers run one way: every #include "x.h" of arena/*.c and
# arena/*.h names a layer at or above (lower number than) the file's own, as
# the layer table of arena/README.md lists them. types.h and concord.h are
# shared by all. Exit status 1 and one line per offending include otherwise.
set -eu
arena=${1:?usage: check_layers.sh ARENA_DIR}
table=$(awk -F'|' '/^\| [0-9]+ \| `[a-z_]+` \|/ { gsub(/[ `]/, "", $3); gsub(/ /, "", $2); print $3, $2 }' "$arena/README.md")
[ -n "$table" ] || { echo "no layer table in $arena/README.md" >&2; exit 1; }
layer_of() { printf '%s\n' "$table" | awk -v n="$1" '$1 == n { print $2 }'; }
bad=0 files=0
for f in "$arena"/*.c "$arena"/*.h; do
    base=$(basename "$f"); base=${base%.*}
    mine=$(layer_of "$base")
    [ -n "$mine" ] || continue
    files=$((files + 1))
    for inc in $(sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f"); do
        case $inc in types | concord) continue ;; esac
        theirs=$(layer_of "$inc")
        if [ -z "$theirs" ]; then
            echo "$base (layer $mine) includes $inc.h, which is not in the layer table"
            bad=1
        elif [ "$theirs" -gt "$mine" ]; then
            echo "$base (layer $mine) includes $inc.h (layer $theirs): calls must run downwards"
            bad=1
        fi
    done
done
[ "$files" -gt 0 ] || { echo "no file of the table found in $arena" >&2; exit 1; }
echo "$files files, includes agree with the layer table"
exit "$bad"
