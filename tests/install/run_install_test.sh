#!/usr/bin/env bash
# Installs a Kiln build tree into a prefix inside it, then builds and runs tests/install against it.
# usage: run_install_test.sh BUILD_DIR CMAKE CXX_COMPILER GENERATOR
set -euo pipefail
build=$1 cmake=$2 cxx=$3 generator=$4
src=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
work=$build/install-test
rm -rf "$work"
"$cmake" --install "$build" --prefix "$work/prefix" >/dev/null
"$cmake" -S "$src" -B "$work/build" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
         -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
grep -q "^Kiln_DIR:PATH=$work/prefix/" "$work/build/CMakeCache.txt" ||
  { echo "install test: find_package(Kiln) did not pick the prefix $work/prefix" >&2; exit 1; }
"$cmake" --build "$work/build"
"$work/build/kiln-install-test"
