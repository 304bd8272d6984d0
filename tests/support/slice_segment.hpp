#pragma once
// A service of slices opened the way the typed builder opens one, for tests that drive the
// cores (detail::ClientCore / ServerCore) directly, as the typed layer and the Python binding do.

#include <floe/floe.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "floe/detail/service_spec.hpp"

namespace floe::test {

/// A Slice<Request> -> Slice<Response> service `name` of at most `max` elements each way, with
/// one client and one server slot (so the request chunks are the last thing in the segment).
template <typename Request = std::byte, typename Response = std::byte>
std::shared_ptr<detail::ServiceSegment> slice_segment(const Node& node, const std::string& name,
                                                      std::uint64_t max, detail::OpenMode mode) {
  const auto& state = detail::NodeAccess::state(node);
  detail::ServiceSpec spec;
  spec.name = name;
  spec.request = TypeInfo::of<Slice<Request>>();
  spec.response = TypeInfo::of<Slice<Response>>();
  spec.request_user_header = TypeInfo::of<NoUserHeader>();
  spec.response_user_header = TypeInfo::of<NoUserHeader>();
  spec.limits = state->config.request_response;
  spec.limits.max_clients = 1;
  spec.limits.max_servers = 1;
  spec.request_max_slice_len = max;
  spec.response_max_slice_len = max;
  return detail::open_service(*state, spec, mode);
}

}  // namespace floe::test
