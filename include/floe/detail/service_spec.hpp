#pragma once
// What a builder asks of a service, handed from the typed front end to the compiled core.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "floe/attributes.hpp"
#include "floe/config.hpp"
#include "floe/introspection.hpp"
#include "floe/shm_compatible.hpp"

namespace floe::detail {

class ServiceSegment;

struct ServiceSpec {
  std::string name;
  TypeInfo request;
  TypeInfo response;
  TypeInfo request_user_header;
  TypeInfo response_user_header;
  RequestResponseLimits limits;
  /// limit_bit(LimitId) of each limit the builder was given. Opening checks only what was asked
  /// for; creating uses every value.
  std::uint32_t explicitly_set = 0;
  /// Defined when creating; required when opening (and of what open_or_create creates).
  AttributeSpecifier attributes;
  AttributeVerifier required_attributes;
  /// Where payloads start, when the builder was given it (else at their type's alignment).
  std::optional<std::uint64_t> request_payload_alignment;
  std::optional<std::uint64_t> response_payload_alignment;
  /// The most elements a slice payload may hold (request / response of floe::Slice<T>), when
  /// the builder was given it: required to create a slice service; an opener's must not exceed
  /// the service's.
  std::optional<std::uint64_t> request_max_slice_len;
  std::optional<std::uint64_t> response_max_slice_len;
};

enum class OpenMode : std::uint8_t { create, open, open_or_create };

struct OpenServices;

struct NodeState {
  std::string name;
  Config config;
  /// The services this node holds open (service_segment.hpp): a second open of one reuses its
  /// mapping and node record, so a node counts once toward max_nodes however many handles it
  /// holds. Shared with the handles, which leave it when their last one goes.
  std::shared_ptr<OpenServices> open_services;
};

std::shared_ptr<ServiceSegment> open_service(const NodeState& node, const ServiceSpec& spec,
                                             OpenMode mode);
const std::string& service_name(const ServiceSegment& segment) noexcept;
RequestResponseLimits service_limits(const ServiceSegment& segment) noexcept;
ServiceUsage service_usage(const ServiceSegment& segment) noexcept;
const AttributeSet& service_attributes(const ServiceSegment& segment) noexcept;

}  // namespace floe::detail
