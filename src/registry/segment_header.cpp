#include "registry/segment_header.hpp"

#include <algorithm>
#include <cstring>

#include "platform/liveness_mark.hpp"

namespace floe::detail {

std::optional<SegmentLayout> layout_of(const ServiceHeader& h) {
  return SegmentLayout::compute(h.limits, h.request, h.response, h.request_user_header,
                                h.response_user_header, h.request_payload_alignment,
                                h.response_payload_alignment, h.request_max_slice_len,
                                h.response_max_slice_len);
}

std::string recorded_type_name(const StoredType& type, bool slice) {
  if (type.size == 0) return {};
  std::string name(type.name, strnlen(type.name, sizeof type.name));
  return slice ? "floe::Slice<" + name + ">" : name;
}

StoredAttributes to_stored(const AttributeSet& attributes) noexcept {
  StoredAttributes stored{};
  for (const Attribute& attribute : attributes) {
    StoredAttribute& item = stored.items[stored.count++];
    item.key_length = static_cast<std::uint8_t>(attribute.key.size());
    item.value_length = static_cast<std::uint8_t>(attribute.value.size());
    std::memcpy(item.key, attribute.key.data(), attribute.key.size());
    std::memcpy(item.value, attribute.value.data(), attribute.value.size());
  }
  return stored;
}

bool attributes_in_range(const StoredAttributes& stored) noexcept {
  if (stored.count > kMaxAttributes) return false;
  for (std::uint32_t i = 0; i < stored.count; ++i) {
    const StoredAttribute& item = stored.items[i];
    if (item.key_length == 0 || item.key_length > sizeof item.key || item.value_length == 0 ||
        item.value_length > sizeof item.value) {
      return false;
    }
  }
  return true;
}

AttributeSet attributes_of(const StoredAttributes& stored) {
  // define() checks every length and the count again: garbage throws, never reads too far.
  AttributeSpecifier specifier;
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(stored.count, kMaxAttributes); ++i) {
    const StoredAttribute& item = stored.items[i];
    specifier.define(
        std::string(item.key, std::min<std::size_t>(item.key_length, sizeof item.key)),
        std::string(item.value, std::min<std::size_t>(item.value_length, sizeof item.value)));
  }
  return specifier.attributes();
}

HeaderJudgement validate_header(const ServiceHeader& header, std::uint64_t object_size) {
  if (header.magic != kSegmentMagic) return {HeaderVerdict::foreign, "is not a floe service", {}};
  if (header.layout_version != kLayoutVersion) {
    return {HeaderVerdict::other_version,
            "is of floe layout version " + std::to_string(header.layout_version) + ", not " +
                std::to_string(kLayoutVersion),
            {}};
  }
  auto layout = layout_of(header);
  if (header.state != static_cast<std::uint32_t>(SegmentState::ready) || !layout ||
      layout->total_size() != object_size || header.segment_size != object_size ||
      header.name_length > sizeof header.name - 1 || !attributes_in_range(header.attributes)) {
    return {HeaderVerdict::damaged, "disagrees with its own header (shrunk, or written over)", {}};
  }
  return {HeaderVerdict::sound, {}, layout};
}

SegmentRead read_segment(const SharedMemoryObject& object, const struct stat& status) {
  SegmentRead read;
  // Not to be read at all: tmpfs would allocate a page for every page read of a sparse one.
  if (auto implausible = implausible_size(status)) {
    read.judgement.problem = std::move(*implausible);
    return read;
  }
  const auto size = static_cast<std::size_t>(status.st_size);
  if (size < sizeof(ServiceHeader)) {
    read.judgement.problem = "is smaller than a service header (shrunk?)";
    return read;
  }
  read.mapping = Mapping(object.fd(), size);
  std::memcpy(&read.header, read.mapping.data(), sizeof read.header);
  if (read.mapping.damaged()) {
    read.judgement.problem = "was shrunk while being read";
    return read;
  }
  read.judgement = validate_header(read.header, size);
  return read;
}

bool is_segment_held(const SharedMemoryObject& object) noexcept {
  return is_marked_alive(object.fd(), 0, kMaxNodes);
}

}  // namespace floe::detail
