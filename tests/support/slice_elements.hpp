#pragma once
// Elements of slices whose every value depends on its index and on the message (the seed), so a
// shifted, truncated, stale or foreign slice shows: bytes, and a 16-byte Sample.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace floe::test {

struct Sample {
  std::uint64_t index;
  std::uint64_t value;
};

inline std::byte byte_at(std::uint64_t i, std::uint64_t seed) {
  return static_cast<std::byte>((i * 131 + seed * 7 + 1) & 0xff);
}
inline Sample sample_at(std::uint64_t i, std::uint64_t seed) {
  return {i, i * 1000003 + seed};
}

inline void fill_bytes(std::span<std::byte> bytes, std::uint64_t seed) {
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = byte_at(i, seed);
}
inline void fill_samples(std::span<Sample> samples, std::uint64_t seed) {
  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i] = sample_at(i, seed);
}
inline std::vector<std::byte> bytes_of(std::uint64_t n, std::uint64_t seed) {
  std::vector<std::byte> bytes(n);
  fill_bytes(bytes, seed);
  return bytes;
}
inline bool bytes_follow(std::span<const std::byte> bytes, std::uint64_t seed) {
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (bytes[i] != byte_at(i, seed)) return false;
  return true;
}
inline bool samples_follow(std::span<const Sample> samples, std::uint64_t seed) {
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample expected = sample_at(i, seed);
    if (samples[i].index != expected.index || samples[i].value != expected.value) return false;
  }
  return true;
}

}  // namespace floe::test
