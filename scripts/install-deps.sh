#!/usr/bin/env bash
# Installs the Debian packages floe builds with; does nothing when they are all there already.
#   --test  also what the test suite needs beyond the build: clang and its runtime for the
#           libFuzzer target (GCC's sanitizer runtimes come with g++).
set -euo pipefail

packages=(g++ cmake make pkg-config liburing-dev libasio-dev libtomlplusplus-dev libcli11-dev
  libgtest-dev libbenchmark-dev)
if [ "${1:-}" = "--test" ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
