#!/usr/bin/env bash
# Installs the build into a scratch prefix and uses it as strangers would: a CMake project
# (find_package(tokenflow)), a pkg-config build of the same program, and the installed `tokenflow`
# finding its model under share/tokenflow/models without TOKENFLOW_MODEL.
#   check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" > /dev/null

cmake -S "$source/tests/consumer" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$scratch/consumer" > /dev/null
model=$prefix/share/tokenflow/models/tokenflow-small.safetensors
"$scratch/consumer/consumer" "$model" | grep -E '^tokens [0-9]+ decoded 3x[0-9]+x[0-9]+$'

# pkg-config: the prefix written into tokenflow.pc is the build's install prefix, so point it here.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pkg-config --exists tokenflow
g++ -std=c++17 -O1 "$source/tests/consumer/consumer.cpp" -o "$scratch/consumer_pc" \
  $(pkg-config --define-variable=prefix="$prefix" --cflags --libs --static tokenflow)
"$scratch/consumer_pc" "$model" | grep -E '^tokens [0-9]+ decoded'

env -u TOKENFLOW_MODEL "$prefix/bin/tokenflow" info | grep -E "^model: +$model$"
echo "install checks passed"
