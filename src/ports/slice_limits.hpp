#pragma once
// How long a slice a port may loan: the bound its builder chose, within the service's.

#include <cstdint>

#include "floe/detail/ports.hpp"

namespace floe::detail {

class ServiceSegment;

/// Which side of a service a port writes: a client's requests, a server's responses.
enum class SliceSide : std::uint8_t { request, response };

/// Throws Errc::exceeds_max_slice_len for a loan of `length` elements by a port (`port`,
/// `slot`) that may loan at most `max`, saying what to raise.
[[noreturn, gnu::cold, gnu::noinline]] void throw_exceeds_max_slice_len(
    const ServiceSegment& segment, SliceSide side, std::uint32_t slot, std::uint64_t length,
    std::uint64_t max);

}  // namespace floe::detail
