#pragma once
// Every heap allocation of a benchmark process is counted (operator new is replaced in
// allocation_counter.cpp), to show the hot path makes none.

#include <atomic>
#include <cstdint>

namespace floe::bench {

std::uint64_t allocations() noexcept;

/// Allocations each side made while the timed part ran, in memory shared with the peer.
struct HotPathAllocations {
  std::atomic<std::uint64_t> client{0};
  std::atomic<std::uint64_t> server{0};
};

}  // namespace floe::bench
