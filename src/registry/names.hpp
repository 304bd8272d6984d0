#pragma once
// Which names are allowed, and how a service name becomes a shared-memory object name.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// Which port writes into a data segment: a client its requests, a server its responses.
enum class DataSegmentWriter : char { client = 'c', server = 's' };

/// A data segment of a slice-writing port: "/floe_d.<domain>.<hash>.<c|s><slot>-<generation>-<n>",
/// where "/floe.<domain>.<hash>" is `service_object`, slot and generation are the writing port's
/// and n its growth number. "floe_d." on purpose: what lists services matches "floe." only.
std::string data_segment_name(std::string_view service_object, DataSegmentWriter writer,
                              std::uint32_t slot, std::uint32_t generation, std::uint32_t number);

/// The object-name prefix ("/floe_d.<domain>.<hash>.<c|s><slot>-<generation>-") every data
/// segment of one port life starts with, and no other port's.
std::string data_segment_prefix(std::string_view service_object, DataSegmentWriter writer,
                                std::uint32_t slot, std::uint32_t generation);

/// The object-name prefix ("/floe_d.<domain>.<hash>.") every data segment of a service starts
/// with, and no other service's.
std::string data_segment_prefix(std::string_view service_object);

/// The object-name prefix ("/floe_d.<domain>.", every domain's with an empty one) of the data
/// segments of a domain.
std::string domain_data_segment_prefix(std::string_view domain);

/// What a data segment's name says.
struct DataSegmentName {
  std::string service_object;  // "/floe.<domain>.<hash>"
  DataSegmentWriter writer = DataSegmentWriter::client;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  std::uint32_t number = 0;
};

/// Parses a name data_segment_name makes; std::nullopt for any other name.
std::optional<DataSegmentName> parse_data_segment_name(std::string_view object_name);

/// The objects in /dev/shm whose object name ("/" + file name) starts with `prefix`, sorted.
std::vector<std::string> objects_with_prefix(std::string_view prefix);

/// Unlinks every object in /dev/shm whose object name starts with `prefix` (a readdir: cold
/// path only); returns how many it unlinked. One that vanished meanwhile or may not be unlinked
/// (another user's, in sticky /dev/shm) is skipped.
std::size_t unlink_objects_with_prefix(std::string_view prefix);

}  // namespace floe::detail
