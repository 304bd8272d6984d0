#pragma once
// The headers floe writes in front of every request and response.

#include <cstdint>

namespace floe {

/// Identifies a port within its service: its slot and how often that slot was taken before, so
/// a port that replaces a dead one never has the dead one's id.
using ClientId = std::uint64_t;
/// A server's id, made the same way as a ClientId.
using ServerId = std::uint64_t;

/// What floe writes in front of every request; ActiveRequest::header() shows it to the server.
struct RequestHeader {
  /// The client that sent the request.
  ClientId client_id;
  /// Counts up per client; responses carry it back.
  std::uint64_t request_id;
};

/// What floe writes in front of every response; Response::header() shows it to the client.
struct ResponseHeader {
  /// The server that sent the response.
  ServerId server_id;
  /// The RequestHeader::request_id of the request it answers.
  std::uint64_t request_id;
  /// Counts the responses this server delivered for this request: 0, 1, 2, ... A gap means
  /// responses in between were overwritten in the client's buffer (safe overflow for
  /// responses); PendingResponse::number_of_overwritten_responses() adds the gaps up.
  std::uint64_t sequence_number;
};

}  // namespace floe
