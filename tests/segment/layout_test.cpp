#include "segment/layout.hpp"

#include <gtest/gtest.h>

#include <vector>

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

TEST(SegmentLayout, AResponseChunkKeepsItsStateOnItsHeadersCacheLine) {
  const auto layout =
      SegmentLayout::compute(defaults(), type(8, 8), type(8, 8), type(0, 1), type(0, 1));
  ASSERT_TRUE(layout);
  const ChunkShape& shape = layout->response_shape();
  EXPECT_GE(shape.state_offset, sizeof(ResponseHeader));
  EXPECT_LT(shape.state_offset + 4, 64u);
  EXPECT_LE(shape.state_offset + 4, shape.payload_offset);
  EXPECT_EQ(shape.stride, 64u);
  // Every chunk of a channel lies inside the channel, before the next one begins, and its
  // state word inside the chunk.
  std::vector<std::byte> segment(layout->total_size());
  std::byte* base = segment.data();
  const std::uint32_t last = layout->response_chunks_per_channel() - 1;
  for (std::uint32_t k = 0; k + 1 < defaults().max_active_requests_per_client; ++k) {
    std::byte* channel = layout->response_channel(base, 0, 0, k);
    std::byte* next = layout->response_channel(base, 0, 0, k + 1);
    std::byte* chunk = layout->response_chunk(base, 0, 0, k, last);
    EXPECT_GT(layout->response_chunk(base, 0, 0, k, 0), channel);
    EXPECT_LE(chunk + shape.stride, next);
    EXPECT_EQ(reinterpret_cast<std::byte*>(layout->response_chunk_state(channel, last)),
              chunk + shape.state_offset);
  }
  EXPECT_LE(layout->response_chunk(base, 1, 7, 3, last) + shape.stride,
            base + layout->total_size());
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
