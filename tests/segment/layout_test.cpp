#include "segment/layout.hpp"
#include "segment/in_memory_segment.hpp"
#include "segment/view.hpp"

#include <gtest/gtest.h>

namespace floe::detail {
namespace {

using test::small_limits;
using test::stored_type;

TEST(SegmentLayout, ChunksRespectAlignmentAndCacheLines) {
  const auto layout =
      SegmentLayout::compute(small_limits(), stored_type(8, 8), stored_type(24, 256),
                             stored_type(0, 1), stored_type(4, 4));
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->request_shape().stride % 64, 0u);
  EXPECT_EQ(layout->response_shape().payload_offset % 256, 0u);
  EXPECT_EQ(layout->response_shape().stride % 256, 0u);
  EXPECT_EQ(layout->total_size() % 4096, 0u);
  EXPECT_EQ(layout->request_chunks_per_client(), 2u + 4u);
  EXPECT_EQ(layout->response_chunks_per_channel(), 8u + 2u + 2u);
}

TEST(SegmentLayout, PayloadAlignmentRaisesTheTypesAndNeverLowersIt) {
  const auto layout =
      SegmentLayout::compute(small_limits(), stored_type(8, 8), stored_type(24, 256),
                             stored_type(4, 4), stored_type(4, 4), 1024, 16);
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->request_shape().payload_offset % 1024, 0u);
  EXPECT_EQ(layout->request_shape().stride % 1024, 0u);
  EXPECT_EQ(layout->response_shape().payload_offset % 256, 0u) << "alignof wins over 16";
  EXPECT_EQ(layout->response_shape().stride % 256, 0u);
}

TEST(SegmentLayout, AResponseChunkKeepsItsStateOnItsHeadersCacheLine) {
  const test::InMemorySegment memory(small_limits());
  const SegmentView& segment = memory.view();
  const SegmentLayout* layout = &segment.layout();
  const ChunkShape& shape = layout->response_shape();
  EXPECT_GE(shape.state_offset, sizeof(ResponseHeader));
  EXPECT_LT(shape.state_offset + 4, 64u);
  EXPECT_LE(shape.state_offset + 4, shape.payload_offset);
  EXPECT_EQ(shape.stride, 64u);
  // Every chunk of a channel lies inside the channel, before the next one begins, and its
  // state word inside the chunk.
  const std::uint32_t last = layout->response_chunks_per_channel() - 1;
  const auto at = [](const ResponseChannel& channel) {
    return reinterpret_cast<std::byte*>(channel.head());
  };
  for (std::uint32_t k = 0; k + 1 < small_limits().max_active_requests_per_client; ++k) {
    const ResponseChannel channel = segment.response_channel(0, 0, k);
    std::byte* next = at(segment.response_channel(0, 0, k + 1));
    std::byte* chunk = channel.chunk(last);
    EXPECT_GT(channel.chunk(0), at(channel));
    EXPECT_LE(chunk + shape.stride, next);
    EXPECT_EQ(reinterpret_cast<std::byte*>(channel.chunk_state(last)), chunk + shape.state_offset);
  }
  EXPECT_LE(segment.response_channel(1, 7, 3).chunk(last) + shape.stride,
            segment.base() + layout->total_size());
}

TEST(SegmentLayout, HostileOrAbsurdLimitsAreRejected) {
  StoredLimits l = small_limits();
  l.max_clients = 0;
  EXPECT_FALSE(SegmentLayout::compute(l, stored_type(8, 8), stored_type(8, 8), stored_type(0, 1),
                                      stored_type(0, 1)));
  l = small_limits();
  l.max_servers = 65;  // a request's receivers are a 64-bit mask
  EXPECT_FALSE(SegmentLayout::compute(l, stored_type(8, 8), stored_type(8, 8), stored_type(0, 1),
                                      stored_type(0, 1)));
  l = small_limits();
  l.max_response_buffer_size = 0xffffffffu;
  EXPECT_FALSE(SegmentLayout::compute(l, stored_type(8, 8), stored_type(8, 8), stored_type(0, 1),
                                      stored_type(0, 1)));
  EXPECT_FALSE(SegmentLayout::compute(small_limits(), stored_type(8, 3), stored_type(8, 8),
                                      stored_type(0, 1), stored_type(0, 1)));
  EXPECT_FALSE(SegmentLayout::compute(small_limits(), stored_type(1ull << 40, 8), stored_type(8, 8),
                                      stored_type(0, 1), stored_type(0, 1)));
  // Payload alignments, as a header holds them: powers of two up to 4096 only.
  for (std::uint64_t alignment : {0ull, 3ull, 8192ull, 1ull << 63}) {
    EXPECT_FALSE(SegmentLayout::compute(small_limits(), stored_type(8, 8), stored_type(8, 8),
                                        stored_type(0, 1), stored_type(0, 1), alignment, 8))
        << alignment;
    EXPECT_FALSE(SegmentLayout::compute(small_limits(), stored_type(8, 8), stored_type(8, 8),
                                        stored_type(0, 1), stored_type(0, 1), 8, alignment))
        << alignment;
  }
  // Large but representable: more than 64 GiB of chunks is refused rather than mapped.
  l = small_limits();
  l.max_clients = 4096;
  l.max_active_requests_per_client = 4096;
  EXPECT_FALSE(SegmentLayout::compute(l, stored_type(8, 8), stored_type(1 << 20, 8),
                                      stored_type(0, 1), stored_type(0, 1)));
}

TEST(SegmentLayout, SliceDescriptorOnFirstCacheLine) {
  const auto layout = SegmentLayout::compute(small_limits(), stored_type(1, 1), stored_type(16, 16),
                                             stored_type(0, 1), stored_type(0, 1), 1, 1, 1000, 64);
  ASSERT_TRUE(layout);
  const ChunkShape& request = layout->request_shape();
  const ChunkShape& response = layout->response_shape();
  // Request: after its header; response: after header and state word; both on line one.
  EXPECT_EQ(request.slice_offset, 16u);
  EXPECT_EQ(response.slice_offset, 32u);
  EXPECT_GE(response.slice_offset, response.state_offset + 4);
  for (const ChunkShape* shape : {&request, &response}) {
    EXPECT_EQ(shape->slice_offset % alignof(SliceDescriptor), 0u);
    EXPECT_LE(shape->slice_offset + sizeof(SliceDescriptor), 64u);
    EXPECT_LE(shape->slice_offset + sizeof(SliceDescriptor), shape->payload_offset);
  }
  EXPECT_EQ(layout->request_slice_capacity(), 1000u);
  EXPECT_EQ(layout->response_slice_capacity(), 64u);
  // A fixed payload has no descriptor: its chunks are as they were.
  const auto fixed = SegmentLayout::compute(small_limits(), stored_type(8, 8), stored_type(8, 8),
                                            stored_type(0, 1), stored_type(0, 1));
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->request_shape().slice_offset, 0u);
  EXPECT_EQ(fixed->response_shape().slice_offset, 0u);
  EXPECT_EQ(fixed->request_shape().stride, 64u);
  EXPECT_EQ(fixed->request_slice_capacity(), 0u);
}

TEST(SegmentLayout, SliceStrideFromMaxLen) {
  // 64 elements of 16 bytes after a 64-byte first line (header, state, descriptor).
  const auto layout = SegmentLayout::compute(small_limits(), stored_type(1, 1), stored_type(16, 16),
                                             stored_type(0, 1), stored_type(0, 1), 1, 1, 1000, 64);
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->response_shape().payload_offset, 48u);
  EXPECT_EQ(layout->response_shape().stride, 48u + 64 * 16 + 16);  // rounded up to 64
  EXPECT_EQ(layout->request_shape().payload_offset, 32u);
  EXPECT_EQ(layout->request_shape().stride, 1088u);  // 32 + 1000, up to a multiple of 64
  // With a user header and an element aligned to 64, every element stays aligned.
  const auto aligned =
      SegmentLayout::compute(small_limits(), stored_type(64, 64), stored_type(8, 8),
                             stored_type(4, 4), stored_type(0, 1), 1, 1, 3, 0);
  ASSERT_TRUE(aligned);
  const ChunkShape& shape = aligned->request_shape();
  EXPECT_GE(shape.user_header_offset, shape.slice_offset + sizeof(SliceDescriptor));
  EXPECT_EQ(shape.payload_offset % 64, 0u);
  EXPECT_EQ(shape.stride, shape.payload_offset + 3 * 64);
  EXPECT_EQ(aligned->response_shape().slice_offset, 0u);
  EXPECT_NE(layout->describe_size().find("(64 max elements x 16 B + 64 B)"), std::string::npos)
      << layout->describe_size();
  EXPECT_NE(layout->limits_to_lower().find("max_slice_len"), std::string::npos);
}

TEST(SegmentLayout, HostileSliceMaxIsRefused) {
  const auto with = [](std::uint64_t element_size, std::uint64_t request_max) {
    return SegmentLayout::compute(small_limits(), stored_type(element_size, 1), stored_type(8, 8),
                                  stored_type(0, 1), stored_type(0, 1), 1, 1, request_max, 0);
  };
  EXPECT_TRUE(with(1, 1));
  EXPECT_FALSE(with(1, (1ull << 32) - 1))
      << "48 request chunks of 4 GiB are more than a segment's 64 GiB";
  EXPECT_FALSE(with(1, 1ull << 63));
  EXPECT_FALSE(with(1, ~0ull));
  EXPECT_FALSE(with(1, 1ull << 32)) << "more elements than a slice may hold";
  EXPECT_FALSE(with(0, 8)) << "elements of no size";
  EXPECT_FALSE(with(1ull << 31, 4)) << "more than 4 GiB of elements";
  EXPECT_FALSE(with(1ull << 32, 1ull << 32)) << "a product that overflows";
  EXPECT_FALSE(with(3, 0x5555555555555556ull)) << "a product that wraps to a small number";
}

}  // namespace
}  // namespace floe::detail
