#pragma once
// The headers floe writes in front of every request and response.

#include <cstdint>

namespace floe {

/// Identifies a port within its service: its slot and how often that slot was taken before, so
/// a port that replaces a dead one never has the dead one's id.
using ClientId = std::uint64_t;
using ServerId = std::uint64_t;

struct RequestHeader {
  ClientId client_id;
  /// Counts up per client; responses carry it back.
  std::uint64_t request_id;
};

struct ResponseHeader {
  ServerId server_id;
  std::uint64_t request_id;
};

}  // namespace floe
