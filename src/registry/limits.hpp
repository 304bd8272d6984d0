#pragma once
// What the registry checks about a service's limits, for every limit of floe/limits.hpp alike:
// the one range check (of builders and config files), and the comparison made when opening.

#include <cstdint>
#include <string>
#include <string_view>

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

/// A limit's value as messages print it: a count as a number, a flag as true or false.
std::string format_limit_value(const LimitInfo& limit, std::uint32_t value);

/// "To allow more, create the service with .max_clients(n) on its builder or
/// defaults.request_response.max_clients = n in the config file (FLOE_CONFIG); ...": how to get
/// a service with more of `id`, for every message of a limit that was reached.
std::string how_to_raise(LimitId id);

/// The message of a service limit that was reached: "floe: <who> has max_clients = 8 clients
/// already; <free_one>. To allow more, ..." (how_to_raise).
std::string limit_reached_message(const std::string& who, LimitId id, std::uint32_t value,
                                  std::string_view held, std::string_view free_one);

/// The message of a port's own limit that was reached (a client's max_active_requests, a
/// server's max_loaned_responses_per_request), set on the port's builder up to the service's
/// limit `id`: raise the port's own while it is below the service's, else the service's.
std::string port_limit_reached_message(const std::string& who, std::string_view setter,
                                       std::uint32_t value, LimitId id, std::uint32_t service_value,
                                       std::string_view held, std::string_view free_one);

StoredLimits to_stored(const RequestResponseLimits& limits) noexcept;
RequestResponseLimits from_stored(const StoredLimits& limits) noexcept;

}  // namespace floe::detail
