#!/bin/sh
# Run each test program given as an argument (cmocka suites and checks);
# print a one-line summary and fail if any failed.
pass=0; fail=0; failed=""
for t in "$@"; do
    name=$(basename "$t")
    if timeout 600 ${VALGRIND:-} "$t"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); failed="$failed $name"
    fi
done
echo
[ -n "$failed" ] && echo "failed suites:$failed"
echo "suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
