#!/bin/sh
# Runs the Criterion suites built under BUILD: unit tests first, then the suites that run
# programs under LD_PRELOAD.  Usage: tools/run-tests.sh BUILD [unit|preload]
# Prints one summary line per suite; exits non-zero if any suite fails.
set -u
build=${1:-build}
only=${2:-}
status=0
for kind in unit preload; do
	[ -n "$only" ] && [ "$only" != "$kind" ] && continue
	[ -d "$build/tests/$kind" ] || continue
	for t in "$build"/tests/"$kind"/*; do
		[ -x "$t" ] || continue
		name="$kind/$(basename "$t")"
		if "$t" --jobs 2 --short-filename >"$t.log" 2>&1; then
			printf 'ok    %-28s %s\n' "$name" "$(grep -E 'Synthesis' "$t.log" | tail -1)"
		else
			printf 'FAIL  %-28s (log: %s)\n' "$name" "$t.log"
			grep -E 'FAIL|Assertion|CRASH|Timeout|error' "$t.log" | head -20
			status=1
		fi
	done
done
exit $status
