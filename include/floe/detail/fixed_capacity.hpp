#pragma once
// What floe::FixedString and floe::FixedVector share: their recorded type names, built at compile
// time so that every compiler records the same one, and the error of a write past their capacity.

#include <array>
#include <cstddef>
#include <string_view>

namespace floe::detail {

/// The number of decimal digits of `value`.
constexpr std::size_t decimal_digits(std::size_t value) {
  std::size_t digits = 1;
  while (value >= 10) {
    value /= 10;
    ++digits;
  }
  return digits;
}

/// A type name composed at compile time; `view()` is usable as a constant when the object is.
template <std::size_t Length>
struct ComposedName {
  std::array<char, Length> chars{};
  std::size_t size = 0;

  constexpr void append(std::string_view text) {
    for (char c : text)
      chars[size++] = c;
  }
  constexpr void append_decimal(std::size_t value) {
    const std::size_t digits = decimal_digits(value);
    for (std::size_t i = digits; i-- > 0; value /= 10)
      chars[size + i] = static_cast<char>('0' + value % 10);
    size += digits;
  }
  constexpr std::string_view view() const noexcept { return {chars.data(), size}; }
};

/// `Template<Argument..., Count>` as one name, e.g. "floe::FixedVector<double, 8>".
template <std::size_t Count, std::string_view const&... Parts>
consteval auto compose_name() {
  constexpr std::size_t length = (Parts.size() + ... + 0) + decimal_digits(Count) + 1;
  ComposedName<length> name;
  (name.append(Parts), ...);
  name.append_decimal(Count);
  name.append(">");
  return name;
}

/// Throws floe::Error(Errc::exceeds_capacity) for a write of `added` elements to a `container`
/// (its type name) holding `size` of `capacity`, naming the explicit ways out.
[[noreturn]] void throw_exceeds_capacity(std::string_view container, std::size_t capacity,
                                         std::size_t size, std::size_t added);

/// Throws std::out_of_range for at(`index`) of a `container` (its type name) holding `size`.
[[noreturn]] void throw_index_out_of_range(std::string_view container, std::size_t index,
                                           std::size_t size);

}  // namespace floe::detail
