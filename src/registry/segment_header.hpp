#pragma once
// What the object at a service's name holds, judged from its size and its header: one judgement
// for the process that opens the service and for the `floe` tool that looks at it, so the two
// never disagree about what is damaged, another version's or not floe's at all.

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "platform/shared_memory.hpp"
#include "segment/layout.hpp"

namespace floe::detail {

enum class HeaderVerdict : std::uint8_t {
  sound,          // this floe version's segment, in agreement with its header and size
  damaged,        // this floe version's, or what is left of one: shrunk, sparse or written over
  foreign,        // not a floe segment
  other_version,  // another floe layout version's segment
};

struct HeaderJudgement {
  HeaderVerdict verdict = HeaderVerdict::damaged;
  std::string problem;                  // why not sound, as "it ...": "is smaller than ..."
  std::optional<SegmentLayout> layout;  // when sound

  bool sound() const noexcept { return verdict == HeaderVerdict::sound; }
  /// This floe version's segment, sound or damaged: its liveness marks say whether anyone
  /// uses it. Another version's processes, or strangers, do not mark themselves.
  bool ours() const noexcept {
    return verdict == HeaderVerdict::sound || verdict == HeaderVerdict::damaged;
  }
};

/// The layout a header describes, if its types, alignments and limits are in range.
std::optional<SegmentLayout> layout_of(const ServiceHeader& header);

/// The name a type is recorded under ("" for none, as a missing user header), as
/// "floe::Slice<T>" for the element type T of a slice payload.
std::string recorded_type_name(const StoredType& type, bool slice);

/// The attributes as the segment stores them; `attributes` fit (AttributeSet's bounds).
StoredAttributes to_stored(const AttributeSet& attributes) noexcept;
/// Whether the count and every length are within their arrays (a hostile writer may have put
/// anything there): validate_header judges a header with stored attributes out of range damaged.
bool attributes_in_range(const StoredAttributes& stored) noexcept;
/// The attributes of a header validate_header judged sound.
AttributeSet attributes_of(const StoredAttributes& stored);

/// Judges a copy of a segment's header against the size of the object it was read from.
HeaderJudgement validate_header(const ServiceHeader& header, std::uint64_t object_size);

/// An object's segment, read and judged.
struct SegmentRead {
  Mapping mapping;         // the whole object; empty when it was not to be read
  ServiceHeader header{};  // copied from the mapping when there is one
  HeaderJudgement judgement;
};

/// Maps the object and judges its header. An object whose size cannot be a segment's (see
/// implausible_size), or is smaller than a header, is judged damaged without being read, so
/// judging never makes tmpfs allocate pages. Throws floe::Error when mapping fails.
SegmentRead read_segment(const SharedMemoryObject& object, const struct stat& status);

/// Whether a live process holds a liveness mark on the segment: the kernel's word on whether
/// anyone uses it, whatever its bytes say.
bool is_segment_held(const SharedMemoryObject& object) noexcept;

}  // namespace floe::detail
