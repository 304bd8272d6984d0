#pragma once
// The streaming example's service: a request asks for `count` numbers, every server answers
// with a stream of them. Blocking backpressure and no safe overflow: a fast server waits for a
// slow client instead of dropping or overwriting what it has not read yet.

#include <floe/floe.hpp>

#include <cstdint>

inline auto open_stream_service(floe::Node& node) {
  return node.service_builder("Examples/Streaming")
      .request_response<std::uint64_t, std::uint64_t>()
      .max_response_buffer_size(256)
      .enable_safe_overflow_for_responses(false)
      .max_clients(8)
      .max_servers(4)
      .open_or_create();
}
