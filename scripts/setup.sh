#!/usr/bin/env bash
# Sets tokenflow up on Debian 12: installs the build dependencies (apt-get, only when some are
# missing), builds everything into build/ and, with --run, runs the main job.
#
#   scripts/setup.sh          install and build
#   scripts/setup.sh --run    install, build, then run the main job
#
# The main job: the shipped model (models/tokenflow-small.safetensors, the default of every command)
# on the bundled photograph examples/wine.jpg: its provenance, a reconstruction with its PSNR, the
# tokens and the image decoded from them, and the understanding features, all under build/.
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

packages=(build-essential cmake pkg-config libtorch-dev libopenblas0-pthread libdnnl-dev libgloo-dev libstb-dev
          nlohmann-json3-dev libcli11-dev libcpp-httplib-dev sentencepiece libgtest-dev libbenchmark-dev libcairo2-dev
          libpcre2-dev libutf8proc-dev)

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
  set -x
  build/tokenflow info
  build/tokenflow reconstruct examples/wine.jpg -o build/wine_reconstructed.png
  build/tokenflow encode examples/wine.jpg -o build/wine_tokens.json
  build/tokenflow decode build/wine_tokens.json -o build/wine_decoded.png
  build/tokenflow embed examples/wine.jpg -o build/wine_features.npy
fi
