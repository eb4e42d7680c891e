#!/usr/bin/env bash
# Configures (or reconfigures) a build directory, builds everything and runs the whole
# test suite: the Criterion programs plus the layering and file-size checks.
# Usage: ./scripts/test.sh [builddir] [extra meson setup options...]   (builddir: build)
set -eu
cd "$(dirname "$0")/.."
builddir=${1:-build}
[ $# -gt 0 ] && shift
if [ -f "$builddir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$builddir" "$@"
else
    meson setup "$builddir" "$@"
fi
meson compile -C "$builddir"
meson test -C "$builddir" --print-errorlogs
