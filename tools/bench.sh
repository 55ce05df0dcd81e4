#!/bin/bash
# tools/bench.sh: run the shared benchmark programs natively and under LD_PRELOAD=libgreen.so,
# side by side, and print one parseable row per workload.
#
# Usage: tools/bench.sh LIB PROGDIR
#   LIB      path to libgreen.so
#   PROGDIR  folder holding the binaries of shared/progs (make progs puts them in build/progs)
#
# Environment:
#   BENCH_RUNS=N        runs per side (default 5); native and green runs alternate and the
#                       median of each side's final `METRIC=value unit` line is reported
#   BENCH_ONLY=a,b      run only these workloads (a program name selects all its variants)
#   BENCH_QUICK=1       about a tenth of the normal sizes (a smoke test, not a measurement)
#   BENCH_TIMEOUT=S     per-run time limit in seconds (default: per workload, 60 to 180)
#   BENCH_OUT=DIR       where results.txt and the per-run logs go (default build/bench)
#
# Output: comment lines start with '#'; every other line is a row
#   workload native green unit ratio status
# where ratio > 1 always means green is better (native/green for times, green/native for
# rates), a cell is "fail" when no run of that side succeeded, and status is ok, FAIL(native),
# FAIL(green) or FAIL(both). A side stops after its first failed run. A run fails when it
# times out, exits non-zero, prints no metric line, prints a FAIL or ERROR line, or lacks
# its workload's correctness line (check=ok). Native runs have LD_PRELOAD removed.
#
# Exit status: 0 when every green run passed, 1 when some green run failed (the table is
# printed either way), 2 on bad usage.

set -u

die_usage()
{
	echo "green: bench: $*" >&2
	echo "usage: tools/bench.sh LIB PROGDIR" >&2
	exit 2
}

[ $# -eq 2 ] || die_usage "expected 2 arguments, got $#"
[ -f "$1" ] || die_usage "library not found: $1"
[ -d "$2" ] || die_usage "program folder not found: $2 (run make progs)"

LIB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
PROGDIR=$(cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-}
OUTDIR=${BENCH_OUT:-$ROOT/build/bench}
LOGDIR=$OUTDIR/logs
RESULTS=$OUTDIR/results.txt

case $RUNS in
'' | *[!0-9]*) die_usage "BENCH_RUNS must be a positive integer, not '$RUNS'" ;;
esac
[ "$RUNS" -ge 1 ] || die_usage "BENCH_RUNS must be at least 1"
if [ -n "${BENCH_TIMEOUT:-}" ]; then
	case $BENCH_TIMEOUT in
	'' | *[!0-9]* | 0) die_usage "BENCH_TIMEOUT must be a positive integer of seconds" ;;
	esac
fi
command -v timeout >/dev/null || die_usage "timeout(1) not found (coreutils)"

# The workloads. Fields, separated by '|':
#   name | metric | better (lower/higher) | correctness line | env | timeout_s | program |
#   normal arguments | quick arguments
# "echo" is special: echo_server PORT and echo_client PORT C R on a free loopback port.
WORKLOADS=(
	"create_join|create_join_ns|lower|check=ok|-|60|create_join|20000|2000"
	"thread_ring|thread_ring_ns|lower|check=ok|-|60|thread_ring|200000|20000"
	"mutex_pingpong|mutex_pingpong_ns|lower|check=ok|-|60|mutex_pingpong|50000|5000"
	"mutex_contended_2|mutex_contended_ns|lower|check=ok|-|60|mutex_contended|2 5000000|2 500000"
	"mutex_contended_8|mutex_contended_ns|lower|check=ok|-|60|mutex_contended|8 1250000|8 125000"
	"mutex_contended_64|mutex_contended_ns|lower|check=ok|-|60|mutex_contended|64 156250|64 15625"
	"pipe_pingpong|pipe_pingpong_ns|lower|check=ok|-|60|pipe_pingpong|100000|10000"
	"sleepers|sleepers_wall_ms|lower|-|-|60|sleepers|10000 10 10000|1000 10 10000"
	"skynet|skynet_ms|lower|check=ok|-|180|skynet|5|4"
	"create_many|create_many_ns|lower|-|-|60|create_many|10000|1000"
	"echo|echo_client_rps|higher|check=ok|-|60|echo|1000 100|100 100"
	"fairness|FAIRNESS|higher|check=ok|GREEN_MAXPROCS=2|30|fairness|64 2|64 1"
)

# selected NAME PROG: is the workload chosen by BENCH_ONLY?
selected()
{
	[ -z "$ONLY" ] && return 0
	case ",$ONLY," in
	*",$1,"* | *",$2,"*) return 0 ;;
	esac
	return 1
}

if [ -n "$ONLY" ]; then
	known=","
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r name _ _ _ _ _ prog _ _ <<<"$w"
		known="$known$name,$prog,"
	done
	IFS=',' read -r -a wanted <<<"$ONLY"
	for n in "${wanted[@]}"; do
		[ -z "$n" ] && continue
		case $known in
		*",$n,"*) ;;
		*) die_usage "BENCH_ONLY: unknown workload '$n' (known: $(echo "$known" |
			tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd ' '))" ;;
		esac
	done
fi

mkdir -p "$LOGDIR" || exit 1
rm -f "$LOGDIR"/*.log
: >"$RESULTS" || exit 1

# Raise the descriptor limit for the echo pair (1000 connections on each side) where allowed.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null

out()
{
	printf '%s\n' "$*"
	printf '%s\n' "$*" >>"$RESULTS"
}

row()
{
	local line
	line=$(printf '%-22s %12s %12s %-6s %7s %s' "$@")
	out "$line"
}

progress()
{
	[ -t 2 ] && printf '\r\033[K  %s' "$*" >&2
	return 0
}

glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
out "# machine: nproc=$(nproc) kernel=$(uname -r) glibc=${glibc:-unknown} cpu=\"${cpu:-unknown}\""
out "# green bench: lib=$LIB progs=$PROGDIR runs=$RUNS quick=$QUICK"
out "# median of each side; ratio > 1 means green is better (native/green for ns and ms,"
out "# green/native for req/s and ratio); a \"fail\" cell means no run of that side succeeded"
row "# workload" native green unit ratio status

# free_port: print a loopback TCP port that no socket uses, below the ephemeral range.
free_port()
{
	local i port hex
	for i in $(seq 1 100); do
		port=$((20000 + RANDOM % 12000))
		hex=$(printf ':%04X' "$port")
		if ! awk -v p="$hex" '$2 ~ p "$" { found = 1 } END { exit !found }' \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo 23456
}

# check_log LOG METRIC EXPECT: print the metric's value, or a failure reason and return 1.
check_log()
{
	local log=$1 metric=$2 expect=$3 line value bad
	bad=$(grep -m1 -E '(^|[ =])FAIL|^ERROR' "$log")
	if [ -n "$bad" ]; then
		echo "failed check: $bad"
		return 1
	fi
	if [ "$expect" != - ] && ! grep -q -- "$expect" "$log"; then
		echo "no '$expect' line"
		return 1
	fi
	line=$(grep -E "^$metric=[^ ]+ [^ ]+\$" "$log" | tail -n 1)
	value=${line#*=}
	value=${value%% *}
	if [ -z "$line" ] || ! awk -v v="$value" 'BEGIN { exit !(v ~ /^[0-9.eE+-]+$/) }'; then
		echo "no $metric=value line"
		return 1
	fi
	echo "$value"
}

# describe_rc RC LOG: say why a run with exit status RC failed.
describe_rc()
{
	local rc=$1 log=$2 first
	first=$(grep -m1 -E '^ERROR|(^|[ =])FAIL|_failed_after=' "$log" | cut -c1-120)
	case $rc in
	124 | 137) echo "timed out after ${T}s" ;;
	*)
		if [ "$rc" -gt 128 ]; then
			echo "killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))${first:+: $first}"
		else
			echo "exit $rc${first:+: $first}"
		fi
		;;
	esac
}

# side_env SIDE: set CMD to the env(1) prefix that runs a program natively or under green.
side_env()
{
	if [ "$1" = green ]; then
		CMD=(env "${ENVA[@]}" LD_PRELOAD="$LIB")
	else
		CMD=(env -u LD_PRELOAD "${ENVA[@]}")
	fi
}

# run_one SIDE LOG PROG ARGS...: run a program on one side, bounded by T seconds.
run_one()
{
	local log=$2
	side_env "$1"
	shift 2
	# The outer 2>/dev/null silences bash's own "Aborted" report for a crashed run.
	{ timeout -k 5 "$T" "${CMD[@]}" "$@" >"$log" 2>&1 </dev/null; } 2>/dev/null
}

# run_echo SIDE LOG C R: the echo pair, server and client both on the same side. Sets
# ECHO_WHY when the server failed by itself.
run_echo()
{
	local side=$1 log=$2 port spid crc src
	ECHO_WHY=
	port=$(free_port)
	side_env "$side"
	timeout -k 5 "$T" "${CMD[@]}" "$PROGDIR/echo_server" "$port" 0 "$T" \
		>"$log.server" 2>&1 </dev/null &
	spid=$!
	run_one "$side" "$log" "$PROGDIR/echo_client" "$port" "$3" "$4" 1 "$T"
	crc=$?
	# Without the client's SHUTDOWN message the server would wait for its alarm; timeout(1)
	# passes the TERM on to it.
	[ "$crc" -eq 0 ] || kill "$spid" 2>/dev/null
	{ wait "$spid"; } 2>/dev/null
	src=$?
	{
		echo "--- echo_server $port 0 $T: exit $src"
		cat "$log.server"
	} >>"$log"
	[ "$src" -ne 0 ] && [ "$src" -ne 143 ] &&
		ECHO_WHY="; echo_server: $(describe_rc "$src" "$log.server")"
	rm -f "$log.server"
	[ "$crc" -ne 0 ] && return "$crc"
	return "$src"
}

# median: of the numbers on stdin, with as many decimals as the most precise of them.
median()
{
	sort -g | awk '{
			v[NR] = $1
			d = index($1, ".") ? length($1) - index($1, ".") : 0
			if (d > dec) dec = d
		}
		END {
			if (NR == 0) exit 1
			if (NR % 2) print v[(NR + 1) / 2]
			else printf "%.*f\n", dec, (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

green_failed=0
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name metric better expect envv timeo prog args qargs <<<"$w"
	selected "$name" "$prog" || continue
	[ "$QUICK" = 1 ] && args=$qargs
	T=${BENCH_TIMEOUT:-$timeo}
	ENVA=()
	[ "$envv" != - ] && read -r -a ENVA <<<"$envv"
	unit=
	nvals=()
	gvals=()
	nfail=
	gfail=
	details=()

	missing=
	if [ "$prog" = echo ]; then
		for p in echo_server echo_client; do
			[ -x "$PROGDIR/$p" ] || missing="$missing $p"
		done
	else
		[ -x "$PROGDIR/$prog" ] || missing=" $prog"
	fi
	if [ -n "$missing" ]; then
		row "$name" fail fail - - "FAIL(both)"
		out "#   $name: missing program(s)$missing in $PROGDIR"
		green_failed=1
		continue
	fi

	for i in $(seq 1 "$RUNS"); do
		for side in native green; do
			if [ "$side" = native ]; then
				[ -n "$nfail" ] && continue
			else
				[ -n "$gfail" ] && continue
			fi
			progress "$name: $side run $i/$RUNS"
			log=$LOGDIR/$name.$side.$i.log
			ECHO_WHY=
			if [ "$prog" = echo ]; then
				# shellcheck disable=SC2086 # args holds C and R
				run_echo "$side" "$log" $args
			else
				# shellcheck disable=SC2086 # args is a list of words
				run_one "$side" "$log" "$PROGDIR/$prog" $args
			fi
			rc=$?
			if [ "$rc" -ne 0 ]; then
				why=$(describe_rc "$rc" "$log")${ECHO_WHY:-}
			elif why=$(check_log "$log" "$metric" "$expect"); then
				if [ "$side" = native ]; then
					nvals+=("$why")
				else
					gvals+=("$why")
				fi
				[ -z "$unit" ] && unit=$(grep -E "^$metric=" "$log" |
					tail -n 1 | awk '{ print $2 }')
				continue
			fi
			details+=("#   $name $side run $i: $why (log: $log)")
			if [ "$side" = native ]; then
				nfail=1
			else
				gfail=1
			fi
		done
	done
	progress ""
	[ -t 2 ] && printf '\r\033[K' >&2

	nmed=fail
	gmed=fail
	[ ${#nvals[@]} -gt 0 ] && nmed=$(printf '%s\n' "${nvals[@]}" | median)
	[ ${#gvals[@]} -gt 0 ] && gmed=$(printf '%s\n' "${gvals[@]}" | median)
	ratio=-
	if [ "$nmed" != fail ] && [ "$gmed" != fail ]; then
		ratio=$(awk -v n="$nmed" -v g="$gmed" -v b="$better" 'BEGIN {
			d = b == "lower" ? g : n
			if (d <= 0) print "-"; else printf "%.2f\n", b == "lower" ? n / g : g / n }')
	fi
	status=ok
	if [ -n "$nfail" ] && [ -n "$gfail" ]; then
		status="FAIL(both)"
	elif [ -n "$nfail" ]; then
		status="FAIL(native)"
	elif [ -n "$gfail" ]; then
		status="FAIL(green)"
	fi
	[ -n "$gfail" ] && green_failed=1
	row "$name" "$nmed" "$gmed" "${unit:--}" "$ratio" "$status"
	for d in "${details[@]}"; do
		out "$d"
	done
done

out "# results: $RESULTS; logs: $LOGDIR"
exit "$green_failed"
