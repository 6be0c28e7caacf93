#!/usr/bin/env bash
# Sets tokenflow up on Debian 12: installs the build dependencies (apt-get, only when some are
# missing), builds everything into build/ and, with --run, runs the main job.
#
#   scripts/setup.sh          install and build
#   scripts/setup.sh --run    install, build, then run the main job
#
# The main job, until the project ships a trained model: a round trip through the tiny CLIP model of
# the parity fixtures (../shared/parity, beside the checkout), writing its outputs under build/.
set -euo pipefail

usage() { echo "usage: scripts/setup.sh [--run]"; }

run_main_job=false
for argument in "$@"; do
  case "$argument" in
    --run) run_main_job=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(build-essential cmake pkg-config libtorch-dev libopenblas0-pthread libgloo-dev libstb-dev
          nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libgtest-dev libbenchmark-dev)

all_installed() {
  local package
  for package in "${packages[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" == "install ok installed" ]] || return 1
  done
}

if ! all_installed; then
  as_root=()
  [[ "$(id -u)" -eq 0 ]] || as_root=(sudo)
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

if "$run_main_job"; then
  fixture=../shared/parity/clipb256e
  if [[ ! -f "$fixture/model.pt" ]]; then
    echo "setup.sh: $fixture/model.pt not found: the parity fixtures belong in ../shared/parity, beside the checkout" >&2
    exit 1
  fi
  set -x
  build/tokenflow info -m "$fixture/model.pt"
  build/tokenflow reconstruct -m "$fixture/model.pt" "$fixture/input.npy" -o build/example_recon.npy
  build/tokenflow encode -m "$fixture/model.pt" "$fixture/input.npy" -o build/example_tokens.json
  build/tokenflow decode -m "$fixture/model.pt" build/example_tokens.json -o build/example_decoded.png
fi
