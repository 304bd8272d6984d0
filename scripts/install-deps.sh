#!/usr/bin/env bash
# Installs the Debian packages floe builds with; does nothing when they are all there already.
#   --test  also what the test suite needs beyond the build: clang and its runtime for the
#           libFuzzer target (GCC's sanitizer runtimes come with g++), python3 for the test
#           that compiles the docs' code blocks, python3-dev, pybind11-dev and python3-pytest
#           for the Python package and its tests, gRPC and protobuf for floe-gateway and its
#           tests (and openssl, whose command makes the TLS tests' certificates).
#   --python only what the Python package needs (python3-dev, pybind11-dev): the demo's.
#   --bench also what the comparison benchmarks (scripts/bench.sh) measure floe against and plot
#           with: iceoryx (and its RouDi daemon), ZeroMQ, gRPC with protobuf, matplotlib; and
#           python3-dev and pybind11-dev for the Python package, whose rows it measures too.
set -euo pipefail

packages=(g++ cmake make pkg-config liburing-dev libasio-dev libtomlplusplus-dev libcli11-dev
  nlohmann-json3-dev libgtest-dev libbenchmark-dev)
case "${1:-}" in
  --test)
    packages+=(clang-14 libclang-rt-14-dev python3 python3-dev pybind11-dev python3-pytest
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev openssl)
    ;;
  --python) packages+=(python3 python3-dev pybind11-dev) ;;
  --bench)
    packages+=(libiceoryx-posh-dev iceoryx cppzmq-dev libgrpc++-dev protobuf-compiler-grpc
      libprotobuf-dev python3-matplotlib python3-dev pybind11-dev)
    ;;
  "") ;;
  *)
    echo "usage: $0 [--test | --python | --bench]" >&2
    exit 2
    ;;
esac

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
