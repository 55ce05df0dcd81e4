#!/bin/sh
# tools/setup.sh: install the Debian packages that green needs to build, test and benchmark.
#
# Idempotent and quiet: when every package is already installed it prints nothing and exits
# 0 after one dpkg-query per package. Otherwise it runs apt-get update once and installs the
# missing ones, through sudo when not root. `make test` and `make bench` run it first.
# Arguments name more packages to install the same way (tools/bench-programs.sh: the
# programs it measures).
set -eu

PACKAGES="build-essential libcriterion-dev libunwind-dev libgc-dev pkg-config $*"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "green: setup: not a Debian system (no dpkg-query); install by hand: $PACKAGES" >&2
	exit 0
fi

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "green: setup: missing packages:$missing; run as root or install sudo" >&2
	exit 1
fi

echo "green: setup: installing$missing"
# shellcheck disable=SC2086 # $sudo and $missing are word lists
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
