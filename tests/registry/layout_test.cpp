#include "registry/layout.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace floe::detail {
namespace {

StoredType type(std::uint64_t size, std::uint64_t alignment) {
  StoredType t{};
  std::strcpy(t.name, "T");
  t.size = size;
  t.alignment = alignment;
  return t;
}

StoredLimits defaults() {
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

TEST(SegmentLayout, ChunksRespectAlignmentAndCacheLines) {
  const auto layout =
      SegmentLayout::compute(defaults(), type(8, 8), type(24, 256), type(0, 1), type(4, 4));
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->request_shape().stride % 64, 0u);
  EXPECT_EQ(layout->response_shape().payload_offset % 256, 0u);
  EXPECT_EQ(layout->response_shape().stride % 256, 0u);
  EXPECT_EQ(layout->total_size() % 4096, 0u);
  EXPECT_EQ(layout->request_chunks_per_client(), 2u + 4u);
  EXPECT_EQ(layout->response_chunks_per_channel(), 8u + 2u + 2u);
}

TEST(SegmentLayout, HostileOrAbsurdLimitsAreRejected) {
  StoredLimits l = defaults();
  l.max_clients = 0;
  EXPECT_FALSE(SegmentLayout::compute(l, type(8, 8), type(8, 8), type(0, 1), type(0, 1)));
  l = defaults();
  l.max_servers = 65;  // a request's receivers are a 64-bit mask
  EXPECT_FALSE(SegmentLayout::compute(l, type(8, 8), type(8, 8), type(0, 1), type(0, 1)));
  l = defaults();
  l.max_response_buffer_size = 0xffffffffu;
  EXPECT_FALSE(SegmentLayout::compute(l, type(8, 8), type(8, 8), type(0, 1), type(0, 1)));
  EXPECT_FALSE(SegmentLayout::compute(defaults(), type(8, 3), type(8, 8), type(0, 1), type(0, 1)));
  EXPECT_FALSE(
      SegmentLayout::compute(defaults(), type(1ull << 40, 8), type(8, 8), type(0, 1), type(0, 1)));
  // Large but representable: more than 64 GiB of chunks is refused rather than mapped.
  l = defaults();
  l.max_clients = 4096;
  l.max_active_requests_per_client = 4096;
  EXPECT_FALSE(SegmentLayout::compute(l, type(8, 8), type(1 << 20, 8), type(0, 1), type(0, 1)));
}

}  // namespace
}  // namespace floe::detail
