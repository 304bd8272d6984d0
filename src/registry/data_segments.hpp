#pragma once
// Data segments as objects under /dev/shm: the writer creates them (room check, reserved, named
// only once complete), receivers open them read-only with the checks of service objects and
// validate them against a geometry they compute themselves (segment/data_segment.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "platform/shared_memory.hpp"
#include "segment/data_segment.hpp"

namespace floe::detail {

/// A data segment as its writer holds it: named, mapped read-write.
class WrittenDataSegment {
 public:
  /// Creates the object at `object_name` holding `header` (whose geometry is `geometry`): checks
  /// /dev/shm has room, reserves every byte (posix_fallocate), writes the header, and only then
  /// names it (link), so nobody opens a half-made one and a writer dying midway leaves nothing.
  /// A leftover at the name (a stale service's, same hash) is unlinked and the link tried once
  /// more. Throws floe::Error (Errc::out_of_memory when /dev/shm cannot hold it), its message
  /// naming `service`.
  WrittenDataSegment(const std::string& object_name, const DataSegmentHeader& header,
                     const DataSegmentGeometry& geometry, bool group_access,
                     const std::string& service);
  WrittenDataSegment(WrittenDataSegment&&) noexcept = default;
  WrittenDataSegment& operator=(WrittenDataSegment&&) noexcept = default;
  /// Unmaps; the name stays (unlink() removes it): a port's segments outlive a moved-from handle.
  ~WrittenDataSegment() = default;

  std::uint32_t number() const noexcept { return number_; }
  const DataSegmentGeometry& geometry() const noexcept { return geometry_; }
  /// The start of slot `slot` (< geometry().slots).
  std::byte* slot(std::uint64_t slot) const noexcept {
    return mapping_.data() + geometry_.slot_offset(slot);
  }
  const std::string& object_name() const noexcept { return object_.name(); }
  /// Removes the name if it still names this object (cold path; the writer is the only one that
  /// unlinks a live writer's segments, so no lock is needed).
  void unlink() const noexcept;

 private:
  SharedMemoryObject object_;
  Mapping mapping_;
  DataSegmentGeometry geometry_;
  std::uint32_t number_ = 0;
};

/// A data segment as a receiver maps it: read-only, validated, guarded against shrinking.
class ReadDataSegment {
 public:
  ReadDataSegment(Mapping mapping, const DataSegmentGeometry& geometry) noexcept
      : mapping_(std::move(mapping)), geometry_(geometry) {}

  const DataSegmentGeometry& geometry() const noexcept { return geometry_; }
  /// The start of slot `slot` (< geometry().slots).
  const std::byte* slot(std::uint64_t slot) const noexcept {
    return mapping_.data() + geometry_.slot_offset(slot);
  }
  /// Whether the object was shrunk under the mapping (it then reads zeros).
  bool damaged() const noexcept { return mapping_.damaged(); }

 private:
  Mapping mapping_;
  DataSegmentGeometry geometry_;
};

/// What opening a data segment found.
struct DataSegmentOpening {
  enum class Outcome { mapped, missing, refused };
  Outcome outcome = Outcome::missing;
  std::optional<ReadDataSegment> segment;  // when mapped
  std::string problem;                     // when refused: what is wrong with the object
};

/// Opens the data segment at `object_name` that writer (`kind`, `writer_slot`,
/// `writer_generation`) made as its number `number`, for a receiver of the service laid out as
/// `layout`: refused (never mapped beyond its header) unless this process may join it (as a
/// service object), its size is plausible, and its header matches the writer, the number and a
/// geometry computed from `layout` and the object's fstat size (validate_data_segment_header).
/// Throws floe::Error only for what a receiver cannot go on without (mmap failing: out of
/// address space or descriptors).
DataSegmentOpening open_data_segment(const std::string& object_name, const SegmentLayout& layout,
                                     DataSegmentKind kind, std::uint32_t writer_slot,
                                     std::uint32_t writer_generation, std::uint32_t number,
                                     bool group_access);

}  // namespace floe::detail
