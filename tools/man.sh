#!/bin/sh
# Manual pages from doc/man/*.scd (scdoc markup), one source per topic.
#   sh tools/man.sh build OUT VERSION   OUT/manN/TOPIC.N (sections 1, 3, 7) and
#                                       for every other name on a source's NAME
#                                       line a page holding ".so manN/TOPIC.N"
#   sh tools/man.sh list                every page, as manN/NAME.N (for uninstall)
# The NAME line is the one list of what a topic documents, so whatis, the
# links and the check (tests/man_check.sh) cannot disagree.
set -eu
dir=$(dirname "$0")/../doc/man

# NAME line of a source: its names, one a line (the first is the topic).
names() {
    awk '/^# NAME/ { on = 1; next } on && NF { sub(/ - .*/, ""); gsub(/,/, " "); print; exit }' "$1" |
        tr -s ' ' '\n' | sed '/^$/d'
}

pages() {
    for src in "$dir"/*.scd; do
        base=$(basename "$src" .scd)            # gz_greenlet.3
        sec=${base##*.}
        for n in $(names "$src"); do echo "man$sec/$n.$sec $base"; done
    done
}

case "${1:-}" in
build)
    out=$2 version=$3
    mkdir -p "$out/man1" "$out/man3" "$out/man7"
    pages | while read -r page topic; do
        sec=${topic##*.}
        if [ "$page" = "man$sec/$topic" ]; then
            sed "s/@VERSION@/$version/" "$dir/$topic.scd" | scdoc > "$out/$page.tmp"
            mv "$out/$page.tmp" "$out/$page"
        else
            echo ".so man$sec/$topic" > "$out/$page"
        fi
    done ;;
list)
    pages | cut -d' ' -f1 ;;
*)
    echo "usage: $0 build OUT VERSION | list" >&2; exit 2 ;;
esac
