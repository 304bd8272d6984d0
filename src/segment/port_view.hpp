#pragma once
// A port's own part of the segment, resolved once when the port is made (as liburing binds its
// ring pointers at setup): the hot paths index these pointers instead of recomputing offsets
// from the base on every message.

#include <cstdint>

#include "segment/view.hpp"

namespace floe::detail {

/// What every port holds of the segment: the view, its slot and its record.
class PortView {
 public:
  const SegmentView& segment() const noexcept { return segment_; }
  const StoredLimits& limits() const noexcept { return segment_.limits(); }
  std::uint32_t slot() const noexcept { return slot_; }
  PortRecord* record() const noexcept { return record_; }

 protected:
  PortView(const SegmentView& segment, std::uint32_t slot, PortRecord* record) noexcept
      : segment_(segment), slot_(slot), record_(record) {}

  SegmentView segment_;
  std::uint32_t slot_;
  PortRecord* record_;
};

class ClientPortView : public PortView {
 public:
  ClientPortView(const SegmentView& segment, std::uint32_t slot) noexcept
      : PortView(segment, slot, segment.client(slot)),
        channels_(segment.client_channel(slot, 0)),
        chunk_states_(segment.request_chunk_state(slot, 0)) {}

  ClientChannel* channel(std::uint32_t k) const noexcept { return channels_ + k; }
  std::uint32_t* chunk_state(std::uint32_t i) const noexcept { return chunk_states_ + i; }
  std::byte* chunk(std::uint32_t i) const noexcept { return segment_.request_chunk(slot_, i); }
  IndexQueue request_queue(std::uint32_t server) const noexcept {
    return segment_.request_queue(slot_, server);
  }
  ResponseChannel response_channel(std::uint32_t server, std::uint32_t k) const noexcept {
    return segment_.response_channel(server, slot_, k);
  }

 private:
  ClientChannel* channels_;      // [max_active_requests_per_client]
  std::uint32_t* chunk_states_;  // [request chunks per client]
};

class ServerPortView : public PortView {
 public:
  ServerPortView(const SegmentView& segment, std::uint32_t slot) noexcept
      : PortView(segment, slot, segment.server(slot)),
        response_channels_(
            reinterpret_cast<std::byte*>(segment.response_channel(slot, 0, 0).head())) {}

  IndexQueue request_queue(std::uint32_t client) const noexcept {
    return segment_.request_queue(client, slot_);
  }
  /// This server's channel for request slot k of a client.
  ResponseChannel response_channel(std::uint32_t client, std::uint32_t k) const noexcept {
    const std::uint64_t index = std::uint64_t{client} * limits().max_active_requests_per_client + k;
    return ResponseChannel(response_channels_ + index * segment_.response_channel_stride(),
                           segment_.layout());
  }

 private:
  std::byte* response_channels_;  // this server's [max_clients][active], the first of them
};

}  // namespace floe::detail
