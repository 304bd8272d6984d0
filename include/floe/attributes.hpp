#pragma once
// Service attributes: key/value pairs a service is created with, which never change while it
// exists and which an opener may require. They live in the service's shared memory, so their
// number and lengths are bounded (below); a key may have several values.

#include <compare>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace floe {

/// Attributes a service can hold (its segment has room for this many, whatever their lengths).
inline constexpr std::size_t kMaxAttributes = 16;
/// Bytes of an attribute's key, at least one.
inline constexpr std::size_t kMaxAttributeKeyLength = 63;
/// Bytes of an attribute's value, at least one.
inline constexpr std::size_t kMaxAttributeValueLength = 191;

/// One key/value pair of a service.
struct Attribute {
  std::string key;    ///< 1 to kMaxAttributeKeyLength bytes
  std::string value;  ///< 1 to kMaxAttributeValueLength bytes

  /// Ordered by key, then value: the order an AttributeSet keeps.
  friend auto operator<=>(const Attribute&, const Attribute&) = default;
};

/// A service's attributes, ordered by key and then value.
class AttributeSet {
 public:
  /// An empty set.
  AttributeSet() = default;

  /// The attributes, ordered by key and then value.
  const std::vector<Attribute>& items() const noexcept { return items_; }
  /// items().begin(): a set is iterable.
  std::vector<Attribute>::const_iterator begin() const noexcept { return items_.begin(); }
  /// items().end().
  std::vector<Attribute>::const_iterator end() const noexcept { return items_.end(); }
  /// Number of attributes (a key with two values counts twice).
  std::size_t size() const noexcept { return items_.size(); }
  /// Whether there is no attribute.
  bool empty() const noexcept { return items_.empty(); }

  /// The values of `key`, in order; empty when the key is not defined.
  std::vector<std::string> values(std::string_view key) const;
  /// The first value of `key`, if it is defined.
  std::optional<std::string> value(std::string_view key) const;
  /// Whether `key` has at least one value.
  bool contains(std::string_view key) const noexcept;
  /// Whether `key` has the value `value`.
  bool contains(std::string_view key, std::string_view value) const noexcept;

  /// Equal when they hold the same attributes.
  friend bool operator==(const AttributeSet&, const AttributeSet&) = default;

 private:
  friend class AttributeSpecifier;
  friend class AttributeVerifier;

  /// Inserts in order. Throws floe::Error (Errc::invalid_attributes) when the key or value is
  /// empty or too long, or when the set is full.
  void add(std::string key, std::string value);

  std::vector<Attribute> items_;
};

/// The attributes a service is created with: RequestResponseBuilder::attributes(), used by
/// create() and by open_or_create() when it creates.
///
///     floe::AttributeSpecifier().define("camera", "front").define("resolution", "1920x1080")
class AttributeSpecifier {
 public:
  /// No attributes.
  AttributeSpecifier() = default;

  /// Adds `key` = `value` (a key may be defined with several values). Throws floe::Error
  /// (Errc::invalid_attributes) when the key or value is empty or longer than
  /// kMaxAttributeKeyLength / kMaxAttributeValueLength, or when kMaxAttributes are defined.
  AttributeSpecifier& define(std::string key, std::string value);

  /// What was defined.
  const AttributeSet& attributes() const noexcept { return defined_; }

 private:
  AttributeSet defined_;
};

/// What an opener requires of a service's attributes: RequestResponseBuilder::
/// required_attributes(), checked by open() and by open_or_create() (also against the attributes
/// it creates the service with). Nothing required: any attributes do.
///
///     floe::AttributeVerifier().require("resolution", "1920x1080").require_key("camera")
class AttributeVerifier {
 public:
  /// No requirement.
  AttributeVerifier() = default;

  /// Requires that `key` has the value `value` (among others, if it has several). Throws
  /// floe::Error (Errc::invalid_attributes) as AttributeSpecifier::define does.
  AttributeVerifier& require(std::string key, std::string value);
  /// Requires that `key` has a value, whichever. Throws floe::Error (Errc::invalid_attributes)
  /// when the key is empty or too long, or when kMaxAttributes keys are required this way.
  AttributeVerifier& require_key(std::string key);

  /// The key/value pairs required.
  const AttributeSet& required_attributes() const noexcept { return required_; }
  /// The keys required with any value.
  const std::vector<std::string>& required_keys() const noexcept { return required_keys_; }

  /// The first requirement `attributes` does not meet, said as "attribute 'k' = 'v' is required,
  /// but 'k' is 'w'" or "attribute 'k' is required, but it is not defined"; nothing when all are
  /// met.
  std::optional<std::string> unmet_requirement(const AttributeSet& attributes) const;

 private:
  AttributeSet required_;
  std::vector<std::string> required_keys_;
};

}  // namespace floe
