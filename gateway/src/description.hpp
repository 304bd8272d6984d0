#pragma once
// A floe service's types and limits as they cross between hosts: read from the exporting host's
// segment, and turned into the spec the importing gateway creates its local service with.

#include <floe/config.hpp>
#include <floe/detail/service_spec.hpp>

#include <cstdint>
#include <string>

#include "floe_gateway.pb.h"

namespace floe::gateway {

/// The service `name` of `domain` as its shared memory records it (read without joining it).
/// Throws floe::Error: service_does_not_exist when no live process holds it (a stale or damaged
/// one is not described), permission_denied for another user's.
v1::ServiceDescription describe_service(const std::string& domain, const std::string& name,
                                        bool group_access);

/// The spec of a local service the description fits, with the storage its TypeInfo names view.
struct LocalSpec {
  std::string request_name, response_name, request_user_header_name, response_user_header_name;
  detail::ServiceSpec spec;

  LocalSpec() = default;
  LocalSpec(const LocalSpec&) = delete;  // spec's names view this object's strings
  LocalSpec& operator=(const LocalSpec&) = delete;
};

/// Fills `local` from `description`: its types, slice maxima, payload alignments and every limit
/// (all explicitly set, so an existing local service with other limits is refused as a process
/// asking for them would be). Throws floe::Error(incompatible_types) when the exporting host's
/// byte order or pointer size differs from this one's: the payload's bytes would mean
/// something else here.
void local_spec_of(const v1::ServiceDescription& description, const Config& config,
                   LocalSpec& local);

/// A digest of what a payload's bytes mean in `description`: its types (names, sizes,
/// alignments, slices), payload alignments, slice maxima, byte order and pointer size, not its
/// limits. The same on every host (FNV-1a over a canonical text), so two gateways compare it.
std::uint64_t types_digest(const v1::ServiceDescription& description);

}  // namespace floe::gateway
