#pragma once
// The examples end by themselves: `--seconds N` (default given by each example).

#include <chrono>
#include <cstdlib>
#include <cstring>

inline std::chrono::steady_clock::time_point deadline_from_args(int argc, char** argv,
                                                                int default_seconds) {
  int seconds = default_seconds;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
  }
  return std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
}
