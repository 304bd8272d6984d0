#pragma once
// What ports log: out of line and cold, called only on failure branches, so that a message's
// way (loan, send, receive, notify succeeding) never so much as looks at the log level.

#include <cstdint>

namespace floe::detail {

class ServiceSegment;

/// The limits a port logs hitting, a bit each in the port's `logged` mask.
enum class PortLimit : std::uint8_t {
  max_loaned_requests = 1,
  request_chunks = 2,
  max_active_requests = 4,
  max_borrowed_responses = 8,
  max_loaned_responses = 16,
  response_chunks = 32,
};

/// Logs (warn) that a port hit `limit`, whose value is `value`, the first time only: a caller
/// that retries in a loop would otherwise log on every attempt.
[[gnu::cold, gnu::noinline]] void log_limit_once(std::uint8_t& logged, PortLimit limit,
                                                 std::uint64_t value, const ServiceSegment& segment,
                                                 const char* port, std::uint32_t slot) noexcept;

/// Logs (info) that a port found the process of a peer port dead and what that ends.
[[gnu::cold, gnu::noinline]] void log_peer_dead(const ServiceSegment& segment, const char* port,
                                                std::uint32_t slot, const char* peer,
                                                std::uint32_t peer_slot, std::uint64_t peer_pid,
                                                const char* consequence) noexcept;

/// Logs (error) shared memory that holds what no correct peer writes, and what floe did about it.
[[gnu::cold, gnu::noinline]] void log_corrupted(const ServiceSegment& segment, const char* port,
                                                std::uint32_t slot, const char* what) noexcept;

}  // namespace floe::detail
