#pragma once
// Which names are allowed, and how a service name becomes a shared-memory object name.

#include <cstddef>
#include <string>
#include <string_view>

namespace floe::detail {

/// 1 to 64 of [A-Za-z0-9_-]: a domain becomes part of file names under /dev/shm.
bool is_valid_domain(std::string_view domain) noexcept;

/// The longest service name, in bytes.
inline constexpr std::size_t kMaxServiceNameLength = 255;
/// What a valid service name is, as messages and the docs state it: what is_valid_service_name
/// enforces, clause by clause.
inline constexpr char kServiceNameRule[] =
    "a service name is 1 to 255 bytes of printable ASCII other than space ('!' to '~'), in "
    "'/'-separated parts, none of them empty, '.' or '..'";

/// kServiceNameRule.
bool is_valid_service_name(std::string_view name) noexcept;

/// Throw floe::Error (invalid_config, invalid_name) saying what a valid one is.
void check_domain(const std::string& domain);
void check_service_name(const std::string& name);

/// The shared-memory object of a service. Service names may be longer than a file name may be,
/// so the object is named by a hash of it; the full name is kept inside the object and checked.
std::string service_object_name(std::string_view domain, std::string_view service_name);

/// The prefix every object of a domain starts with (without the leading '/').
std::string domain_object_prefix(std::string_view domain);

/// The domain a service object name ("/floe.<domain>.<hash>") belongs to, for messages; empty
/// for a name that is not a floe object's.
std::string_view domain_of_object(std::string_view object_name) noexcept;

}  // namespace floe::detail
