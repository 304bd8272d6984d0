#pragma once
// What the registry checks about a service's limits, for every limit of floe/limits.hpp alike:
// the one range check (of builders and config files), and the comparison made when opening.

#include <cstdint>
#include <string>

#include "floe/limits.hpp"
#include "segment/layout.hpp"

namespace floe::detail {

/// "max_servers = 65 is out of range: it must be from 1 to 64 (...)": the message both the
/// config file and service creation give for a value outside the limit's range.
std::string out_of_range_message(const LimitInfo& limit, std::int64_t value);

/// Throws Errc::incompatible_limits naming service, limit, range and bound for the first limit
/// of `which` (limit_bit) out of range.
void check_ranges(const RequestResponseLimits& limits, std::uint32_t which,
                  const std::string& service);

/// Throws Errc::incompatible_limits unless the service's limits satisfy every one of `asked`
/// (limit_bit) in `wanted`: at least as many of each count, the same flags.
void check_satisfies(const StoredLimits& service_limits, const RequestResponseLimits& wanted,
                     std::uint32_t asked, const std::string& service);

StoredLimits to_stored(const RequestResponseLimits& limits) noexcept;
RequestResponseLimits from_stored(const StoredLimits& limits) noexcept;

}  // namespace floe::detail
