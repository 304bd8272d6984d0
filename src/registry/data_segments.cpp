#include "registry/data_segments.hpp"

#include <sys/mman.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "segment/layout.hpp"

namespace floe::detail {

namespace {

std::string path_of(const std::string& object_name) {
  return std::string(kShmDirectory) + object_name;
}

/// Refuses a segment /dev/shm has no room for before anything is made, saying what to change.
void check_room_for_data_segment(const std::string& service, const DataSegmentGeometry& geometry) {
  struct statvfs shm {};
  if (::statvfs(kShmDirectory, &shm) != 0) return;  // posix_fallocate still checks
  const std::uint64_t available = std::uint64_t{shm.f_bavail} * shm.f_frsize;
  if (geometry.total_size <= available) return;
  throw Error(Errc::out_of_memory,
              "floe: service '" + service + "': a port growing its slices to " +
                  std::to_string(geometry.max_slice_len) + " elements needs a data segment of " +
                  human_size(geometry.total_size) + " (" + std::to_string(geometry.slots) +
                  " chunks x " + human_size(geometry.slot_stride) + "), but " + kShmDirectory +
                  " has " + human_size(available) +
                  " free. Loan shorter slices, lower the service's limits, or enlarge " +
                  kShmDirectory + " (mount -o remount,size=...)");
}

}  // namespace

WrittenDataSegment::WrittenDataSegment(const std::string& object_name,
                                       const DataSegmentHeader& header,
                                       const DataSegmentGeometry& geometry, bool group_access,
                                       const std::string& service)
    : object_(SharedMemoryObject::create_unnamed(group_access ? 0660 : 0600)),
      geometry_(geometry),
      number_(header.number) {
  check_room_for_data_segment(service, geometry);
  const char* doing = "reserve";
  try {
    object_.reserve(geometry.total_size);
    doing = "map";
    mapping_ = Mapping(object_.fd(), geometry.total_size);
    std::memcpy(mapping_.data(), &header, sizeof header);
    doing = "name";
    if (!object_.publish_as(object_name)) {
      // Left by a service of the same name that is gone (data segment names are unique per
      // port life): it is nobody's now.
      ::shm_unlink(object_name.c_str());
      if (!object_.publish_as(object_name)) {
        throw Error(Errc::corrupted, "floe: " + path_of(object_name) +
                                         " was created again by someone else meanwhile");
      }
    }
  } catch (const Error& e) {
    throw Error(e.code(), "floe: service '" + service + "': cannot " + doing + " data segment " +
                              path_of(object_name) + " of " + human_size(geometry.total_size) +
                              ": " + cause_of(e));
  }
}

void WrittenDataSegment::unlink() const noexcept {
  static_cast<void>(object_.unlink_if_still_named());
}

DataSegmentOpening open_data_segment(const std::string& object_name, const SegmentLayout& layout,
                                     DataSegmentKind kind, std::uint32_t writer_slot,
                                     std::uint32_t writer_generation, std::uint32_t number,
                                     bool group_access) {
  DataSegmentOpening opening;
  std::optional<SharedMemoryObject> object;
  try {
    object = SharedMemoryObject::open_existing(object_name, group_access, Access::read_only);
  } catch (const Error& e) {
    opening.outcome = DataSegmentOpening::Outcome::refused;
    opening.problem = cause_of(e);
    return opening;
  }
  if (!object) return opening;  // missing
  opening.outcome = DataSegmentOpening::Outcome::refused;
  struct stat status {};
  if (::fstat(object->fd(), &status) != 0) {
    opening.problem = std::string("cannot be examined: ") + std::strerror(errno);
    return opening;
  }
  if (auto implausible = implausible_size(status)) {
    opening.problem = std::move(*implausible);
    return opening;
  }
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (size < kDataSegmentHeaderSize || size > kMaxDataSegmentSize) {
    opening.problem = "is " + std::to_string(size) + " bytes, no data segment's size";
    return opening;
  }
  // The header first, alone: nothing beyond it is mapped until the header vouches for the size.
  DataSegmentHeader header{};
  {
    const Mapping header_page(object->fd(), kDataSegmentHeaderSize, Access::read_only);
    std::memcpy(&header, header_page.data(), sizeof header);
    if (header_page.damaged()) {
      opening.problem = "was shrunk while being read";
      return opening;
    }
  }
  const auto geometry = validate_data_segment_header(header, layout, kind, writer_slot,
                                                     writer_generation, number, size);
  if (!geometry) {
    opening.problem = "disagrees with its name, with the service's limits or with its own size (" +
                      std::to_string(size) + " bytes)";
    return opening;
  }
  opening.segment.emplace(Mapping(object->fd(), geometry->total_size, Access::read_only),
                          *geometry);
  opening.outcome = DataSegmentOpening::Outcome::mapped;
  return opening;
}

}  // namespace floe::detail
