#include "segment/data_segment.hpp"

#include <gtest/gtest.h>

#include "segment/in_memory_segment.hpp"

namespace floe::detail {
namespace {

using test::small_limits;
using test::stored_type;

/// Requests: slices of 16-byte elements, inline max 4; responses: slices of 8-byte elements
/// aligned to 256 by the service, inline max 2.
SegmentLayout slice_layout() {
  return *SegmentLayout::compute(small_limits(), stored_type(16, 8), stored_type(8, 8),
                                 stored_type(0, 1), stored_type(0, 1), 1, 256, 4, 2);
}

TEST(DataSegment, GeometryHasOneSlotPerChunkTheWriterCanHold) {
  const SegmentLayout layout = slice_layout();
  const auto request = data_segment_geometry(layout, DataSegmentKind::request, 100);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->slots, 2u + 4u) << "loaned + active requests";
  EXPECT_EQ(request->slot_stride, 1600u) << "100 x 16 B, a multiple of 64";
  EXPECT_EQ(request->total_size, kDataSegmentHeaderSize + 6u * 1600u);
  const auto response = data_segment_geometry(layout, DataSegmentKind::response, 3);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->slots, 8u * 4u * (8u + 2u + 2u)) << "clients x active x P";
  EXPECT_EQ(response->slot_stride, 256u) << "the service's payload alignment";
  EXPECT_EQ(response->slot_offset(1) % 256, 0u);
}

TEST(DataSegment, SlotsOfChunksAreDistinctAndInRange) {
  const SegmentLayout layout = slice_layout();
  const auto geometry = *data_segment_geometry(layout, DataSegmentKind::response, 1);
  std::vector<bool> seen(geometry.slots);
  for (std::uint32_t c = 0; c < small_limits().max_clients; ++c) {
    for (std::uint32_t k = 0; k < small_limits().max_active_requests_per_client; ++k) {
      for (std::uint32_t i = 0; i < layout.response_chunks_per_channel(); ++i) {
        const std::uint64_t slot = response_data_slot(layout, c, k, i);
        ASSERT_LT(slot, geometry.slots);
        EXPECT_FALSE(seen[slot]);
        seen[slot] = true;
      }
    }
  }
  EXPECT_EQ(request_data_slot(5), 5u);
}

TEST(DataSegment, AbsurdGeometriesAreRefused) {
  const SegmentLayout layout = slice_layout();
  EXPECT_FALSE(data_segment_geometry(layout, DataSegmentKind::request, 0));
  EXPECT_FALSE(data_segment_geometry(layout, DataSegmentKind::request, kMaxSliceLen + 1));
  EXPECT_FALSE(data_segment_geometry(layout, DataSegmentKind::request, ~std::uint64_t{0}));
  // 2^31 elements of 16 B: 32 GiB per slot, above a payload's 4 GiB.
  EXPECT_FALSE(data_segment_geometry(layout, DataSegmentKind::request, std::uint64_t{1} << 31));
  // 2^28 x 16 B = 4 GiB per slot, but 6 slots: above 64 GiB? No, 24 GiB: accepted.
  EXPECT_TRUE(data_segment_geometry(layout, DataSegmentKind::request, std::uint64_t{1} << 28));
  // 384 response slots of 4 GiB: far above 64 GiB.
  EXPECT_FALSE(data_segment_geometry(layout, DataSegmentKind::response, std::uint64_t{1} << 29));
  const SegmentLayout fixed = *SegmentLayout::compute(
      small_limits(), stored_type(16, 8), stored_type(8, 8), stored_type(0, 1), stored_type(0, 1));
  EXPECT_FALSE(data_segment_geometry(fixed, DataSegmentKind::request, 4)) << "not a slice";
}

TEST(DataSegment, AHeaderIsTakenOnlyWhenEverythingMatches) {
  const SegmentLayout layout = slice_layout();
  const auto geometry = *data_segment_geometry(layout, DataSegmentKind::request, 64);
  const DataSegmentHeader good =
      make_data_segment_header(DataSegmentKind::request, 3, 7, 2, geometry);
  const auto check = [&](const DataSegmentHeader& h, std::uint64_t size) {
    return validate_data_segment_header(h, layout, DataSegmentKind::request, 3, 7, 2, size)
        .has_value();
  };
  EXPECT_TRUE(check(good, geometry.total_size));
  EXPECT_FALSE(check(good, geometry.total_size - 1)) << "shrunk";
  EXPECT_FALSE(check(good, geometry.total_size + 4096)) << "larger than its geometry";
  const auto expected_as = [&](DataSegmentKind kind, std::uint32_t slot, std::uint32_t generation,
                               std::uint32_t number) {
    return validate_data_segment_header(good, layout, kind, slot, generation, number,
                                        geometry.total_size)
        .has_value();
  };
  EXPECT_FALSE(expected_as(DataSegmentKind::response, 3, 7, 2)) << "met as a response writer's";
  EXPECT_FALSE(expected_as(DataSegmentKind::request, 4, 7, 2)) << "another slot";
  EXPECT_FALSE(expected_as(DataSegmentKind::request, 3, 8, 2)) << "another generation";
  EXPECT_FALSE(expected_as(DataSegmentKind::request, 3, 7, 3)) << "another number";
  const auto forged = [&](auto change) {
    DataSegmentHeader h = good;
    change(h);
    return h;
  };
  EXPECT_FALSE(check(forged([](auto& h) { h.magic ^= 1; }), geometry.total_size));
  EXPECT_FALSE(check(forged([](auto& h) { h.layout_version += 1; }), geometry.total_size));
  EXPECT_FALSE(check(forged([](auto& h) { h.slot_stride *= 2; }), geometry.total_size));
  EXPECT_FALSE(check(forged([](auto& h) { h.slots += 1; }), geometry.total_size));
  // A larger max whose object is sized for it, but a stride the header got wrong.
  const auto larger = *data_segment_geometry(layout, DataSegmentKind::request, 128);
  EXPECT_FALSE(check(forged([](auto& h) { h.max_slice_len = 128; }), larger.total_size));
  EXPECT_FALSE(
      check(forged([](auto& h) { h.max_slice_len = ~std::uint64_t{0}; }), geometry.total_size));
  EXPECT_FALSE(check(forged([](auto& h) { h.max_slice_len = 0; }), geometry.total_size));
  const DataSegmentHeader zero =
      make_data_segment_header(DataSegmentKind::request, 3, 7, 0, geometry);
  EXPECT_FALSE(validate_data_segment_header(zero, layout, DataSegmentKind::request, 3, 7, 0,
                                            geometry.total_size))
      << "number 0 is the inline room, never a data segment";
}

}  // namespace
}  // namespace floe::detail
