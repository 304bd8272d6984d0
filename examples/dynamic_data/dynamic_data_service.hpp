#pragma once
// The dynamic_data example's service: a request is a run of bytes of any length up to
// kMaxRequestBytes, a response a run of up to kMaxSamples samples. Each server answers a
// request with a stream of responses of growing length that together give every byte back as a
// Sample. Lossless (no safe overflow, the server's sends wait for room): the client checks that
// every byte comes back from every server.

#include <floe/floe.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

/// One byte of a request, as a server reports it: where it was and what it held.
struct Sample {
  std::uint32_t offset;
  std::uint32_t value;
  static constexpr std::string_view floe_type_name = "examples::Sample";
};

/// The longest request, in bytes: every request chunk of the service is this large.
inline constexpr std::uint64_t kMaxRequestBytes = 16 * 1024;
/// The longest response, in samples (2 KiB each).
inline constexpr std::uint64_t kMaxSamples = 256;

inline auto open_dynamic_data_service(floe::Node& node) {
  return node.service_builder("Examples/DynamicData")
      .request_response<floe::Slice<std::byte>, floe::Slice<Sample>>()
      .request_max_slice_len(kMaxRequestBytes)
      .response_max_slice_len(kMaxSamples)
      .enable_safe_overflow_for_responses(false)
      .max_clients(4)
      .max_servers(2)
      .open_or_create();
}
