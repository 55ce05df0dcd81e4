#!/bin/bash
# tools/bench-programs.sh: real programs natively and under LD_PRELOAD=libgreen.so, alternated,
# with their outputs checked identical (issue 5: CPU-bound real programs within 5% of native;
# the fsync/compute mix at 90% of native throughput).
#
# Usage: tools/bench-programs.sh [LIB]     (LIB defaults to build/libgreen.so)
#
# Environment:
#   BENCHP_RUNS=N     runs per side (default 3); native and green alternate, medians reported
#   BENCHP_ONLY=a,b   only these workloads: pigz, xz, zstd, sort, fsync_mix
#   BENCHP_MB=N       size of the generated input in MiB (default 200)
#   BENCHP_DIR=D      where the input and outputs go (default /tmp/green-benchp; not the repo)
#   BENCHP_MIX_S=S    seconds per fsync_mix run (default 5)
#
# The input is text from tools/bench/gentext.c with a fixed seed: the same bytes every time.
# Output: '#' lines are comments; every other line is a row
#   workload native green unit ratio check
# with medians of each side; ratio > 1 means green is better (native/green for seconds,
# green/native for rates); check is ok when every run of both sides wrote the same output
# (sha256), "differ" otherwise, "-" where there is no output to compare (fsync_mix).  A
# comment after each row gives every run, the median of the ratios of each alternated
# pair (steadier than the ratio of medians when the machine's load drifts) and the median
# CPU seconds (user+sys) of each side.
# Exit status: 0 when every run succeeded and every output matched, 1 otherwise.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=${1:-$ROOT/build/libgreen.so}
RUNS=${BENCHP_RUNS:-3}
ONLY=${BENCHP_ONLY:-pigz,xz,zstd,sort,fsync_mix}
MB=${BENCHP_MB:-200}
DIR=${BENCHP_DIR:-/tmp/green-benchp}
MIX_S=${BENCHP_MIX_S:-5}
MIX=$ROOT/build/tests/progs/syscall_fsync_mix

die()
{
	echo "green: bench-programs: $*" >&2
	exit 2
}

[ -f "$LIB" ] || die "library not found: $LIB (run make)"
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
case $RUNS$MB$MIX_S in *[!0-9]*) die "BENCHP_RUNS, BENCHP_MB and BENCHP_MIX_S are integers" ;; esac
"$ROOT/tools/setup.sh" pigz xz-utils zstd coreutils time || exit 2
mkdir -p "$DIR" || exit 2

INPUT=$DIR/input-${MB}M.txt
GEN=$DIR/gentext.$$
OUT=$DIR/stdout.$$
ERR=$DIR/stderr.$$
if [ ! -s "$INPUT" ] || [ "$(stat -L -c %s "$INPUT")" -ne $((MB * 1048576)) ]; then
	# Written aside and renamed: another instance may be reading the old file.
	cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$GEN" "$ROOT/tools/bench/gentext.c" || exit 2
	"$GEN" $((MB * 1048576)) 1 >"$INPUT.$$" && mv -f "$INPUT.$$" "$INPUT" ||
		die "cannot write $INPUT"
	rm -f "$GEN"
fi

# The workloads: name | command (reads $INPUT, writes $OUTF) | sort flag.
WORKLOADS=(
	'pigz|pigz -p 8 -c "$INPUT" >"$OUTF"'
	'xz|xz -T4 -c "$INPUT" >"$OUTF"'
	'zstd|zstd -q -T4 -c "$INPUT" >"$OUTF"'
	'sort|LC_ALL=C sort --parallel=4 -T "$DIR" -o "$OUTF" "$INPUT"'
)

# run SIDE CMD: runs CMD natively or under green; sets SECS (wall) and CPU (user+sys).
run()
{
	local side=$1 cmd=$2 t0 t1 tf=$DIR/time.$$ pre="unset LD_PRELOAD"
	# Only the program runs under green, not time(1) or the shell around it.
	[ "$side" = green ] && pre="export LD_PRELOAD='$LIB'"
	t0=$(date +%s%N)
	env -u LD_PRELOAD /usr/bin/time -f '%U %S' -o "$tf" bash -c "$pre; $cmd" >"$OUT" 2>"$ERR"
	local rc=$?
	t1=$(date +%s%N)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	CPU=$(awk '{ printf "%.2f", $1 + $2 }' "$tf" 2>/dev/null)
	rm -f "$tf"
	return $rc
}

median()
{
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pair_ratio NUM DEN: the median of NUM[i]/DEN[i] over the runs both sides completed.
pair_ratio()
{
	local -n num=$1 den=$2
	for i in "${!num[@]}"; do
		[ -n "${den[$i]:-}" ] && awk -v a="${num[$i]}" -v b="${den[$i]}" \
			'BEGIN { if (b > 0) printf "%.3f\n", a / b }'
	done | median
}

selected()
{
	case ",$ONLY," in *",$1,"*) return 0 ;; esac
	return 1
}

status=0
echo "# machine: nproc=$(nproc) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" kernel=$(uname -r)"
echo "# input: $INPUT ($MB MiB, seed 1); runs per side: $RUNS, alternated"
printf '%-18s %10s %10s %-8s %6s %s\n' "# workload" native green unit ratio check

for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name cmd <<<"$w"
	selected "$name" || continue
	nt=() gt=() nc=() gc=() sums=() failed=
	for i in $(seq 1 "$RUNS"); do
		for side in native green; do
			OUTF=$DIR/out.$name.$side.$$
			export INPUT OUTF DIR
			if ! run "$side" "$cmd"; then
				echo "#   $name $side run $i failed: $(head -c 200 "$ERR")"
				failed=1
				continue
			fi
			sums+=("$(sha256sum <"$OUTF" | cut -c1-64)")
			rm -f "$OUTF"
			if [ "$side" = native ]; then nt+=("$SECS") nc+=("$CPU"); else gt+=("$SECS") gc+=("$CPU"); fi
		done
	done
	check=ok
	[ "$(printf '%s\n' "${sums[@]}" | sort -u | wc -l)" -eq 1 ] || check=differ
	[ -n "$failed" ] && check=failed
	[ "$check" = ok ] || status=1
	nm=$(printf '%s\n' "${nt[@]}" | median)
	gm=$(printf '%s\n' "${gt[@]}" | median)
	ratio=$(awk -v n="$nm" -v g="$gm" 'BEGIN { if (g > 0) printf "%.3f", n / g; else print "-" }')
	printf '%-18s %10s %10s %-8s %6s %s\n' "$name" "$nm" "$gm" s "$ratio" "$check"
	echo "#   $name: runs native ${nt[*]} green ${gt[*]}; paired ratio $(pair_ratio nt gt);" \
		"CPU s native $(printf '%s\n' "${nc[@]}" | median) green" \
		"$(printf '%s\n' "${gc[@]}" | median); sha256 ${sums[0]:-none}"
done

if selected fsync_mix; then
	[ -x "$MIX" ] || die "$MIX not found (run make tests)"
	nf=() gf=() nw=() gw=() nc=() gc=() failed=
	for i in $(seq 1 "$RUNS"); do
		for side in native green; do
			if ! run "$side" "$MIX 8 8 $MIX_S"; then
				echo "#   fsync_mix $side run $i failed"
				failed=1
				continue
			fi
			line=$(grep '^FSYNCS_PER_S=' "$OUT")
			f=$(sed 's/.*FSYNCS_PER_S=\([0-9.]*\).*/\1/' <<<"$line")
			c=$(sed 's/.*WORK_PER_S=\([0-9.]*\).*/\1/' <<<"$line")
			if [ "$side" = native ]; then
				nf+=("$f") nw+=("$c") nc+=("$CPU")
			else
				gf+=("$f") gw+=("$c") gc+=("$CPU")
			fi
		done
	done
	[ -n "$failed" ] && status=1
	for m in fsyncs work; do
		if [ $m = fsyncs ]; then n=("${nf[@]}") g=("${gf[@]}") u=fsync/s; else n=("${nw[@]}") g=("${gw[@]}") u=kops/s; fi
		nm=$(printf '%s\n' "${n[@]}" | median)
		gm=$(printf '%s\n' "${g[@]}" | median)
		ratio=$(awk -v n="$nm" -v g="$gm" 'BEGIN { if (n > 0) printf "%.3f", g / n; else print "-" }')
		printf '%-18s %10.0f %10.0f %-8s %6s %s\n' "fsync_mix.$m" "$nm" "$gm" "$u" "$ratio" -
		echo "#   fsync_mix.$m: runs native ${n[*]} green ${g[*]}; paired ratio" \
			"$(pair_ratio g n)"
	done
	# Under load from other processes the 16 native threads get a larger share of the
	# CPUs than green's few Ms: the process's CPU time tells that apart.
	echo "#   fsync_mix: CPU s per run native $(printf '%s\n' "${nc[@]}" | median)" \
		"green $(printf '%s\n' "${gc[@]}" | median) (user+sys, $MIX_S s runs)"
fi
rm -f "$OUT" "$ERR"
exit $status
