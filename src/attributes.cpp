#include "floe/attributes.hpp"

#include <algorithm>

#include "floe/error.hpp"

namespace floe {
namespace {

void check_length(std::string_view what, const std::string& text, std::size_t max) {
  if (text.empty() || text.size() > max) {
    throw Error(Errc::invalid_attributes, "floe: attribute " + std::string(what) + " '" + text +
                                              "' has " + std::to_string(text.size()) +
                                              " bytes; want 1 to " + std::to_string(max));
  }
}

void check_room(std::size_t used, const std::string& key) {
  if (used >= kMaxAttributes) {
    throw Error(Errc::invalid_attributes, "floe: attribute '" + key + "' is one too many: a " +
                                              "service holds at most " +
                                              std::to_string(kMaxAttributes) +
                                              " attributes, so no more can be defined or required");
  }
}

/// "'a', 'b'": the values of a key, for messages.
std::string quoted_list(const std::vector<std::string>& values) {
  std::string text;
  for (const std::string& value : values) {
    text += (text.empty() ? "'" : ", '") + value + "'";
  }
  return text;
}

}  // namespace

std::vector<std::string> AttributeSet::values(std::string_view key) const {
  std::vector<std::string> found;
  for (const Attribute& attribute : items_) {
    if (attribute.key == key) found.push_back(attribute.value);
  }
  return found;
}

std::optional<std::string> AttributeSet::value(std::string_view key) const {
  for (const Attribute& attribute : items_) {
    if (attribute.key == key) return attribute.value;
  }
  return std::nullopt;
}

bool AttributeSet::contains(std::string_view key) const noexcept {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const Attribute& attribute) { return attribute.key == key; });
}

bool AttributeSet::contains(std::string_view key, std::string_view value) const noexcept {
  return std::any_of(items_.begin(), items_.end(), [&](const Attribute& attribute) {
    return attribute.key == key && attribute.value == value;
  });
}

void AttributeSet::add(std::string key, std::string value) {
  check_length("key", key, kMaxAttributeKeyLength);
  check_length("value", value, kMaxAttributeValueLength);
  check_room(items_.size(), key);
  Attribute attribute{std::move(key), std::move(value)};
  items_.insert(std::upper_bound(items_.begin(), items_.end(), attribute), std::move(attribute));
}

AttributeSpecifier& AttributeSpecifier::define(std::string key, std::string value) {
  defined_.add(std::move(key), std::move(value));
  return *this;
}

AttributeVerifier& AttributeVerifier::require(std::string key, std::string value) {
  required_.add(std::move(key), std::move(value));
  return *this;
}

AttributeVerifier& AttributeVerifier::require_key(std::string key) {
  check_length("key", key, kMaxAttributeKeyLength);
  check_room(required_keys_.size(), key);
  required_keys_.push_back(std::move(key));
  return *this;
}

std::optional<std::string> AttributeVerifier::unmet_requirement(
    const AttributeSet& attributes) const {
  for (const Attribute& wanted : required_) {
    if (attributes.contains(wanted.key, wanted.value)) continue;
    const std::vector<std::string> values = attributes.values(wanted.key);
    return "attribute '" + wanted.key + "' = '" + wanted.value + "' is required, but '" +
           wanted.key + "' " +
           (values.empty() ? std::string("is not defined") : "is " + quoted_list(values));
  }
  for (const std::string& key : required_keys_) {
    if (!attributes.contains(key)) {
      return "attribute '" + key + "' is required, but it is not defined";
    }
  }
  return std::nullopt;
}

}  // namespace floe
