#pragma once
// What a service's shared memory holds right now: for tools, tests and monitoring.

#include <cstdint>

namespace floe {

/// Counts read from a service's shared memory at one moment (Service::usage()).
struct ServiceUsage {
  std::uint64_t request_chunks = 0;          ///< every request chunk of every client slot
  std::uint64_t request_chunks_in_use = 0;   ///< loaned, or bound to a request someone holds
  std::uint64_t response_chunks = 0;         ///< every response chunk of every channel
  std::uint64_t response_chunks_in_use = 0;  ///< loaned, queued or borrowed
  std::uint32_t nodes = 0;                   ///< processes' nodes holding the service open
  std::uint32_t clients = 0;                 ///< client ports open now
  std::uint32_t servers = 0;                 ///< server ports open now
  std::uint64_t segment_size = 0;            ///< bytes of the shared-memory segment
};

}  // namespace floe
