#pragma once
// How a request's stream of responses ended, for PendingResponse::end_reason().

#include <cstdint>

namespace floe {

/// Why a PendingResponse's stream is over, or that it is not. A receive's std::nullopt says only
/// that the stream ended; this says whether anyone ever got the request.
enum class StreamEnd : std::uint8_t {
  /// A server still holds the request open: more responses may come.
  open,
  /// Every server the request reached ended its stream: it dropped its ActiveRequest (or its
  /// Server, after taking the request).
  finished,
  /// The request reached no server: none was connected when it was sent (or each one's request
  /// buffer was full and the send discarded it). Nobody will ever see it.
  no_server,
  /// A server the request reached went away without ending its stream: its process died, or its
  /// Server was dropped before taking the request. Every client of a server that died reads
  /// this, whichever process found it dead first.
  server_gone,
};

}  // namespace floe
