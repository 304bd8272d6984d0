#pragma once
// The layout of a data segment: where the elements of slice payloads longer than the service
// segment holds inline go, one object per growth of one writing port (a client's requests, a
// server's responses). Pure arithmetic, no system calls: registry/data_segments.hpp creates and
// opens the objects.
//
//   DataSegmentHeader     one page, written once by the writer before the object has a name
//   slot[slots]           one per chunk the writer can hold, slot_stride bytes each
//
// Slots: a client has one per request chunk (R = loaned + active requests), a server one per
// response chunk it may write: clients x active requests x P. A receiver never trusts the header
// alone: it computes the geometry from the service header it validated and the max the data
// header names, and requires the object's size to be exactly that.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "floe/slice.hpp"
#include "segment/layout.hpp"

namespace floe::detail {

inline constexpr std::uint64_t kDataSegmentMagic = 0x3173642d656f6c66ull;  // "floe-ds1"
/// The header's room: one page, so slots start page-aligned whatever their alignment.
inline constexpr std::uint64_t kDataSegmentHeaderSize = 4096;
/// Data segment numbers of one port life run 1..255 (0 names the inline room of the service
/// segment) and are never reused, so a receiver's mapping for a number never names another object.
inline constexpr std::uint32_t kMaxDataSegmentNumber = 255;
/// The most data segments one port keeps alive at once (the newest and those still read).
inline constexpr std::uint32_t kMaxLiveDataSegments = 8;
/// The largest data segment floe creates or maps, as for service segments.
inline constexpr std::uint64_t kMaxDataSegmentSize = std::uint64_t{64} << 30;

/// Which side wrote a data segment.
enum class DataSegmentKind : std::uint32_t { request = 1, response = 2 };

struct DataSegmentHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t kind;  // DataSegmentKind
  std::uint32_t writer_slot;
  std::uint32_t writer_generation;
  std::uint32_t number;
  std::uint32_t reserved;
  std::uint64_t max_slice_len;
  std::uint64_t slot_stride;
  std::uint64_t slots;
};
static_assert(std::is_trivially_copyable_v<DataSegmentHeader> &&
              sizeof(DataSegmentHeader) <= kDataSegmentHeaderSize);

/// A data segment's shape, computed by each process from the service's layout.
struct DataSegmentGeometry {
  std::uint64_t max_slice_len = 0;  // elements per slot
  std::uint64_t slot_stride = 0;    // bytes
  std::uint64_t slots = 0;
  std::uint64_t total_size = 0;  // header page + slots

  /// Where slot `slot` (< slots) starts, from the segment's start.
  std::uint64_t slot_offset(std::uint64_t slot) const noexcept {
    return kDataSegmentHeaderSize + slot * slot_stride;
  }
};

/// The slots of a writer of `kind`: one per chunk it can hold (see the file comment).
inline std::uint64_t data_segment_slots(const SegmentLayout& layout,
                                        DataSegmentKind kind) noexcept {
  if (kind == DataSegmentKind::request) return layout.request_chunks_per_client();
  return std::uint64_t{layout.limits().max_clients} *
         layout.limits().max_active_requests_per_client * layout.response_chunks_per_channel();
}

/// The geometry of a data segment of `kind` whose slots hold `max_slice_len` elements;
/// std::nullopt when that side is not a slice, the max is 0 or above kMaxSliceLen, a slot would
/// exceed 4 GiB or the whole kMaxDataSegmentSize (also for a hostile header's max).
inline std::optional<DataSegmentGeometry> data_segment_geometry(
    const SegmentLayout& layout, DataSegmentKind kind, std::uint64_t max_slice_len) noexcept {
  const bool request = kind == DataSegmentKind::request;
  const std::uint64_t element =
      request ? layout.request_element_size() : layout.response_element_size();
  const std::uint64_t alignment = std::max<std::uint64_t>(
      64, request ? layout.request_payload_alignment() : layout.response_payload_alignment());
  const std::uint64_t capacity =
      request ? layout.request_slice_capacity() : layout.response_slice_capacity();
  if (capacity == 0 || element == 0 || max_slice_len == 0 || max_slice_len > kMaxSliceLen ||
      alignment > kDataSegmentHeaderSize) {
    return std::nullopt;
  }
  // element <= 4 GiB and max_slice_len < 2^32: the product fits in 64 bits.
  const std::uint64_t bytes = element * max_slice_len;
  if (bytes > (std::uint64_t{1} << 32)) return std::nullopt;
  DataSegmentGeometry g;
  g.max_slice_len = max_slice_len;
  g.slot_stride = (bytes + alignment - 1) / alignment * alignment;
  g.slots = data_segment_slots(layout, kind);
  // slots < 2^32 (limits) and stride <= 2^32 + 4096: compare by division, never overflow.
  if (g.slots == 0 || g.slot_stride > (kMaxDataSegmentSize - kDataSegmentHeaderSize) / g.slots) {
    return std::nullopt;
  }
  g.total_size = kDataSegmentHeaderSize + g.slots * g.slot_stride;
  return g;
}

/// The slot of a client's request chunk `chunk` (< request_chunks_per_client).
inline constexpr std::uint64_t request_data_slot(std::uint32_t chunk) noexcept {
  return chunk;
}

/// The slot of a server's response chunk `chunk` of the channel of client `client`, request
/// channel `channel`.
inline std::uint64_t response_data_slot(const SegmentLayout& layout, std::uint32_t client,
                                        std::uint32_t channel, std::uint32_t chunk) noexcept {
  const std::uint64_t active = layout.limits().max_active_requests_per_client;
  return (std::uint64_t{client} * active + channel) * layout.response_chunks_per_channel() + chunk;
}

/// The header a writer puts in a new data segment.
inline DataSegmentHeader make_data_segment_header(DataSegmentKind kind, std::uint32_t writer_slot,
                                                  std::uint32_t writer_generation,
                                                  std::uint32_t number,
                                                  const DataSegmentGeometry& geometry) noexcept {
  DataSegmentHeader h{};
  h.magic = kDataSegmentMagic;
  h.layout_version = kLayoutVersion;
  h.kind = static_cast<std::uint32_t>(kind);
  h.writer_slot = writer_slot;
  h.writer_generation = writer_generation;
  h.number = number;
  h.max_slice_len = geometry.max_slice_len;
  h.slot_stride = geometry.slot_stride;
  h.slots = geometry.slots;
  return h;
}

/// The geometry of a mapped data segment whose header (a private copy: read it once) a receiver
/// expects to belong to writer (`kind`, `writer_slot`, `writer_generation`) and to be its number
/// `number`, and whose object is `object_size` bytes; std::nullopt unless the header says exactly
/// that, its max gives a valid geometry computed here from `layout`, and the object is exactly
/// that geometry's size. Only the max is taken from the header; stride and slots are recomputed.
inline std::optional<DataSegmentGeometry> validate_data_segment_header(
    const DataSegmentHeader& header, const SegmentLayout& layout, DataSegmentKind kind,
    std::uint32_t writer_slot, std::uint32_t writer_generation, std::uint32_t number,
    std::uint64_t object_size) noexcept {
  if (header.magic != kDataSegmentMagic || header.layout_version != kLayoutVersion ||
      header.kind != static_cast<std::uint32_t>(kind) || header.writer_slot != writer_slot ||
      header.writer_generation != writer_generation || header.number != number || number == 0 ||
      number > kMaxDataSegmentNumber) {
    return std::nullopt;
  }
  const auto geometry = data_segment_geometry(layout, kind, header.max_slice_len);
  if (!geometry || header.slot_stride != geometry->slot_stride || header.slots != geometry->slots ||
      object_size != geometry->total_size) {
    return std::nullopt;
  }
  return geometry;
}

}  // namespace floe::detail
