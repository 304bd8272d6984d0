#include "description.hpp"

#include <floe/error.hpp>
#include <floe/limits.hpp>

#include <bit>
#include <cstdint>

#include "registry/inspection.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"

namespace floe::gateway {

namespace {

constexpr const char* kByteOrder = std::endian::native == std::endian::little ? "little" : "big";
constexpr std::uint32_t kPointerBits = sizeof(void*) * 8;

void describe_type(const detail::StoredType& stored, bool slice, v1::TypeDescription& type) {
  type.set_name(stored.name);
  type.set_size(stored.size);
  type.set_alignment(stored.alignment);
  type.set_slice(slice);
}

TypeInfo type_info(const v1::TypeDescription& type, std::string& name) {
  name = type.name();
  return TypeInfo{name, type.size(), type.alignment(), type.slice()};
}

}  // namespace

v1::ServiceDescription describe_service(const std::string& domain, const std::string& name,
                                        bool group_access) {
  const detail::SegmentReport report =
      detail::inspect_object(detail::service_object_name(domain, name), group_access);
  if (report.refused) {
    throw Error(Errc::permission_denied,
                "floe-gateway: service '" + name + "' cannot be exported: " + report.problem);
  }
  if (!report.valid || report.stale() || report.service != name) {
    throw Error(Errc::service_does_not_exist,
                "floe-gateway: service '" + name + "' does not exist in domain '" + domain +
                    "' (or no live process holds it): start its server first");
  }
  v1::ServiceDescription description;
  description.set_service(name);
  describe_type(report.request, report.request_max_slice_len != 0, *description.mutable_request());
  describe_type(report.response, report.response_max_slice_len != 0,
                *description.mutable_response());
  describe_type(report.request_user_header, false, *description.mutable_request_user_header());
  describe_type(report.response_user_header, false, *description.mutable_response_user_header());
  description.set_request_payload_alignment(report.request_payload_alignment);
  description.set_response_payload_alignment(report.response_payload_alignment);
  description.set_request_max_slice_len(report.request_max_slice_len);
  description.set_response_max_slice_len(report.response_max_slice_len);
  const RequestResponseLimits limits = detail::from_stored(report.limits);
  for (const detail::LimitInfo& limit : detail::kLimits) {
    (*description.mutable_limits())[std::string(limit.name)] =
        detail::limit_value(limits, limit.id);
  }
  description.set_byte_order(kByteOrder);
  description.set_pointer_bits(kPointerBits);
  return description;
}

std::uint64_t types_digest(const v1::ServiceDescription& d) {
  std::string text = d.service();
  for (const v1::TypeDescription* type :
       {&d.request(), &d.response(), &d.request_user_header(), &d.response_user_header()}) {
    text += '\0';
    text += type->name();
    text += '\0';
    text += std::to_string(type->size()) + ',' + std::to_string(type->alignment()) +
            (type->slice() ? ",slice" : "");
  }
  for (const std::uint64_t number :
       {d.request_payload_alignment(), d.response_payload_alignment(), d.request_max_slice_len(),
        d.response_max_slice_len(), std::uint64_t{d.pointer_bits()}}) {
    text += ',';
    text += std::to_string(number);
  }
  text += d.byte_order();
  std::uint64_t digest = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (const char c : text) {
    digest ^= static_cast<unsigned char>(c);
    digest *= 0x100000001b3ull;
  }
  return digest;
}

void local_spec_of(const v1::ServiceDescription& description, const Config& config,
                   LocalSpec& local) {
  if (description.byte_order() != kByteOrder || description.pointer_bits() != kPointerBits) {
    throw Error(Errc::incompatible_types,
                "floe-gateway: service '" + description.service() + "' is exported by a host of " +
                    description.byte_order() + " byte order and " +
                    std::to_string(description.pointer_bits()) + "-bit pointers; this one is " +
                    kByteOrder + ", " + std::to_string(kPointerBits) +
                    "-bit: its payloads' bytes would mean something else here");
  }
  detail::ServiceSpec& spec = local.spec;
  spec.name = description.service();
  spec.request = type_info(description.request(), local.request_name);
  spec.response = type_info(description.response(), local.response_name);
  spec.request_user_header =
      type_info(description.request_user_header(), local.request_user_header_name);
  spec.response_user_header =
      type_info(description.response_user_header(), local.response_user_header_name);
  spec.request_payload_alignment = description.request_payload_alignment();
  spec.response_payload_alignment = description.response_payload_alignment();
  if (description.request().slice())
    spec.request_max_slice_len = description.request_max_slice_len();
  if (description.response().slice()) {
    spec.response_max_slice_len = description.response_max_slice_len();
  }
  spec.limits = config.request_response;
  for (const detail::LimitInfo& limit : detail::kLimits) {
    const auto found = description.limits().find(std::string(limit.name));
    if (found == description.limits().end()) continue;  // a newer floe's limit list: defaults
    detail::set_limit_value(spec.limits, limit.id, found->second);
    spec.explicitly_set |= detail::limit_bit(limit.id);
  }
}

}  // namespace floe::gateway
