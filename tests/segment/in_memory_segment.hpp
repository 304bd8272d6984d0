#pragma once
// A service segment in private memory, for tests of the segment layer that need no process,
// object or lock: types and limits as a header would hold them, and a zeroed mapping.

#include <cstdlib>
#include <cstring>
#include <memory>

#include "segment/layout.hpp"
#include "segment/view.hpp"

namespace floe::detail::test {

inline StoredType stored_type(std::uint64_t size, std::uint64_t alignment) {
  StoredType t{};
  std::strcpy(t.name, "T");
  t.size = size;
  t.alignment = alignment;
  return t;
}

/// Small limits: 8 clients, 2 servers, 4 active requests per client.
inline StoredLimits small_limits() {
  StoredLimits l{};
  l.max_clients = 8;
  l.max_servers = 2;
  l.max_nodes = 20;
  l.max_active_requests_per_client = 4;
  l.max_loaned_requests = 2;
  l.max_response_buffer_size = 8;
  l.max_borrowed_responses_per_pending_response = 2;
  l.max_loaned_responses_per_request = 2;
  return l;
}

/// The segment of a service of 8-byte requests and responses, zeroed as a new one is, page
/// aligned as a mapping is.
class InMemorySegment {
 public:
  explicit InMemorySegment(const StoredLimits& limits)
      : layout_(*SegmentLayout::compute(limits, stored_type(8, 8), stored_type(8, 8),
                                        stored_type(0, 1), stored_type(0, 1))),
        memory_(static_cast<std::byte*>(std::aligned_alloc(4096, layout_.total_size())),
                &std::free),
        view_(memory_.get(), layout_) {
    std::memset(memory_.get(), 0, layout_.total_size());
  }

  const SegmentView& view() const noexcept { return view_; }

 private:
  SegmentLayout layout_;
  std::unique_ptr<std::byte, decltype(&std::free)> memory_;
  SegmentView view_;
};

}  // namespace floe::detail::test
