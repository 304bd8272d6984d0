#pragma once
// How long a slice a port may loan: the bound its builder chose, within the service's.

#include <cstdint>

#include "floe/detail/ports.hpp"

namespace floe::detail {

class ServiceSegment;

/// Which side of a service a port writes: a client's requests, a server's responses.
enum class SliceSide : std::uint8_t { request, response };

/// The most elements a port writing `side` may loan inline: `policy.max_len`, or the service's
/// max when that is 0 or (a growing port's) above it; 0 when that side is not a slice. Throws
/// Errc::incompatible_limits for a fixed policy above the service's max, or for a max on a side
/// that is not a slice. Called before the port takes its slot, so a refusal leaves nothing
/// taken.
std::uint64_t port_max_slice_len(const ServiceSegment& segment, SliceSide side, SlicePolicy policy);

/// Throws Errc::exceeds_max_slice_len for a loan of `length` elements by a port (`side`,
/// `slot`) that may loan at most `max`, saying what to raise; `growing`: the port grows past the
/// service's maximum (its allocation strategy is not fixed), so `max` is kMaxSliceLen.
[[noreturn, gnu::cold, gnu::noinline]] void throw_exceeds_max_slice_len(
    const ServiceSegment& segment, SliceSide side, std::uint32_t slot, std::uint64_t length,
    std::uint64_t max, bool growing);

}  // namespace floe::detail
