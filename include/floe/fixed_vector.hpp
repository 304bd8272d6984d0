#pragma once
// A vector that can travel in a payload: at most N elements stored in place, no heap.

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "floe/detail/fixed_capacity.hpp"
#include "floe/shm_compatible.hpp"

namespace floe {

namespace detail {
template <typename T>
inline constexpr std::string_view kElementTypeName = TypeName<T>::value();
inline constexpr std::string_view kFixedVectorPrefix = "floe::FixedVector<";
inline constexpr std::string_view kNameSeparator = ", ";
}  // namespace detail

/// Up to N elements of T stored inside the object, so a payload or user header may hold a
/// sequence (`std::vector` cannot: it points into one process's heap). T must itself be
/// ShmCompatible; the vector then is too. loan() gives an empty one.
///
/// Writes that would pass the capacity throw floe::Error(Errc::exceeds_capacity) and change
/// nothing (push_back, emplace_back, insert, append, assign, resize, the constructors);
/// truncating is asked for by name (truncated, append_truncated) and try_ forms return false.
///
/// The size is stored beside the elements, and a received vector's size is another process's
/// word: every read is bounded by N whatever it says.
template <typename T, std::size_t N>
class FixedVector {
  static_assert(ShmCompatible<T>,
                "floe::FixedVector<T, N>: T must be ShmCompatible (trivially copyable, standard "
                "layout, default constructible, no pointer), as it lives in shared memory too");
  static_assert(N > 0, "floe::FixedVector<T, N>: N must be at least 1");
  static_assert(N < (std::size_t{1} << 32), "floe::FixedVector<T, N>: N must be below 2^32");

  static constexpr auto kName =
      detail::compose_name<N, detail::kFixedVectorPrefix, detail::kElementTypeName<T>,
                           detail::kNameSeparator>();

 public:
  using value_type = T;
  using size_type = std::size_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = T*;
  using const_iterator = const T*;

  /// The name services record: "floe::FixedVector<" T's recorded name ", N>", the same under
  /// every compiler when T's is (give T a floe_type_name).
  static constexpr std::string_view floe_type_name = kName.view();

  /// Empty.
  constexpr FixedVector() noexcept = default;
  /// The elements given; throws floe::Error(Errc::exceeds_capacity) for more than N.
  constexpr FixedVector(std::initializer_list<T> elements) {
    assign(std::span<const T>(elements.begin(), elements.size()));
  }
  /// A copy of `elements`; throws floe::Error(Errc::exceeds_capacity) for more than N.
  explicit constexpr FixedVector(std::span<const T> elements) { assign(elements); }

  /// The first N of `elements`: truncation asked for by name.
  static constexpr FixedVector truncated(std::span<const T> elements) noexcept {
    FixedVector result;
    result.append_unchecked(elements.first(std::min(elements.size(), N)));
    return result;
  }

  /// N: the most elements it holds.
  static constexpr std::size_t capacity() noexcept { return N; }
  static constexpr std::size_t max_size() noexcept { return N; }
  /// The elements held (never more than N, whatever a peer wrote).
  constexpr std::size_t size() const noexcept { return std::min<std::size_t>(size_, N); }
  constexpr bool empty() const noexcept { return size() == 0; }
  /// Whether it holds N elements.
  constexpr bool full() const noexcept { return size() == N; }

  constexpr T* data() noexcept { return elements_; }
  constexpr const T* data() const noexcept { return elements_; }
  constexpr std::span<T> span() noexcept { return {elements_, size()}; }
  constexpr std::span<const T> span() const noexcept { return {elements_, size()}; }
  constexpr operator std::span<const T>() const noexcept { return span(); }  // NOLINT: implicit
  constexpr operator std::span<T>() noexcept { return span(); }              // NOLINT: implicit

  constexpr T& operator[](std::size_t index) noexcept { return elements_[index]; }
  constexpr const T& operator[](std::size_t index) const noexcept { return elements_[index]; }
  /// The element at `index`; throws std::out_of_range at or past size().
  constexpr T& at(std::size_t index) {
    check_index(index);
    return elements_[index];
  }
  constexpr const T& at(std::size_t index) const {
    check_index(index);
    return elements_[index];
  }
  constexpr T& front() noexcept { return elements_[0]; }
  constexpr const T& front() const noexcept { return elements_[0]; }
  constexpr T& back() noexcept { return elements_[size() - 1]; }
  constexpr const T& back() const noexcept { return elements_[size() - 1]; }
  constexpr T* begin() noexcept { return elements_; }
  constexpr T* end() noexcept { return elements_ + size(); }
  constexpr const T* begin() const noexcept { return elements_; }
  constexpr const T* end() const noexcept { return elements_ + size(); }

  /// Replaces the elements; throws floe::Error(Errc::exceeds_capacity) (unchanged) past N.
  constexpr void assign(std::span<const T> elements) {
    if (elements.size() > N) detail::throw_exceeds_capacity(floe_type_name, N, 0, elements.size());
    size_ = 0;
    append_unchecked(elements);
  }
  constexpr void clear() noexcept { size_ = 0; }

  /// Appends `value`; throws floe::Error(Errc::exceeds_capacity) (unchanged) when full.
  constexpr void push_back(const T& value) {
    if (!try_push_back(value)) detail::throw_exceeds_capacity(floe_type_name, N, size(), 1);
  }
  /// Appends `value` if there is room; false (unchanged) when full.
  constexpr bool try_push_back(const T& value) noexcept {
    if (full()) return false;
    elements_[size()] = value;
    size_ = static_cast<std::uint32_t>(size() + 1);
    return true;
  }
  /// Constructs an element at the end; throws floe::Error(Errc::exceeds_capacity) when full.
  template <typename... Args>
  constexpr T& emplace_back(Args&&... args) {
    if (full()) detail::throw_exceeds_capacity(floe_type_name, N, size(), 1);
    T& element = elements_[size()];
    element = T{std::forward<Args>(args)...};
    size_ = static_cast<std::uint32_t>(size() + 1);
    return element;
  }
  /// Removes the last element, if any.
  constexpr void pop_back() noexcept {
    if (!empty()) size_ = static_cast<std::uint32_t>(size() - 1);
  }

  /// Inserts `value` before `position`; throws floe::Error(Errc::exceeds_capacity) when full.
  constexpr T* insert(const T* position, const T& value) {
    if (full()) detail::throw_exceeds_capacity(floe_type_name, N, size(), 1);
    T* at = elements_ + std::clamp<std::ptrdiff_t>(position - elements_, 0,
                                                   static_cast<std::ptrdiff_t>(size()));
    const T copy = value;  // `value` may be one of the elements moved below
    std::copy_backward(at, end(), end() + 1);
    *at = copy;
    size_ = static_cast<std::uint32_t>(size() + 1);
    return at;
  }
  /// Removes the element at `position` (end() removes nothing); returns what follows it.
  constexpr T* erase(const T* position) noexcept {
    T* at = elements_ + std::clamp<std::ptrdiff_t>(position - elements_, 0,
                                                   static_cast<std::ptrdiff_t>(size()));
    if (at == end()) return at;
    std::copy(at + 1, end(), at);
    size_ = static_cast<std::uint32_t>(size() - 1);
    return at;
  }

  /// Appends all of `elements`, or throws floe::Error(Errc::exceeds_capacity) and appends none.
  constexpr void append(std::span<const T> elements) {
    if (!try_append(elements)) {
      detail::throw_exceeds_capacity(floe_type_name, N, size(), elements.size());
    }
  }
  /// Appends all of `elements` if they fit; false (unchanged) if not.
  constexpr bool try_append(std::span<const T> elements) noexcept {
    if (elements.size() > N - size()) return false;
    append_unchecked(elements);
    return true;
  }
  /// Appends as many of `elements` as fit and returns how many that was.
  constexpr std::size_t append_truncated(std::span<const T> elements) noexcept {
    const std::span<const T> fitting = elements.first(std::min(elements.size(), N - size()));
    append_unchecked(fitting);
    return fitting.size();
  }

  /// Sets the size to `count`, new elements copies of `fill`; throws
  /// floe::Error(Errc::exceeds_capacity) (unchanged) past N.
  constexpr void resize(std::size_t count, const T& fill = T{}) {
    if (count > N) detail::throw_exceeds_capacity(floe_type_name, N, 0, count);
    for (std::size_t i = size(); i < count; ++i)
      elements_[i] = fill;
    size_ = static_cast<std::uint32_t>(count);
  }

  /// Element by element, whatever the two capacities.
  template <std::size_t M>
  friend constexpr bool operator==(const FixedVector& a, const FixedVector<T, M>& b) noexcept
      requires std::equality_comparable<T> {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  template <std::size_t M>
  friend constexpr auto operator<=>(const FixedVector& a, const FixedVector<T, M>& b) noexcept
      requires std::three_way_comparable<T> {
    return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end());
  }
  /// Prints as its {fmt} formatter (fmt/ranges.h) does: "[1, 2, 3]" (std::int8_t and
  /// std::uint8_t elements as numbers too), text elements (a char, anything that converts to
  /// std::string_view) quoted ("['a', 'b']", "[\"x\", \"y\"]"), though not escaped.
  friend std::ostream& operator<<(std::ostream& out, const FixedVector& vector) requires
      requires(std::ostream& o, const T& element) {
    o << element;
  }
  {
    out << '[';
    for (std::size_t i = 0; i < vector.size(); ++i) {
      if (i != 0) out << ", ";
      if constexpr (std::is_same_v<T, char>) {
        out << '\'' << vector[i] << '\'';
      } else if constexpr (std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char>) {
        out << static_cast<int>(vector[i]);  // ostream prints these as characters, fmt not
      } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        out << '"' << std::string_view(vector[i]) << '"';
      } else {
        out << vector[i];
      }
    }
    return out << ']';
  }

 private:
  constexpr void append_unchecked(std::span<const T> elements) noexcept {
    std::copy(elements.begin(), elements.end(), elements_ + size());
    size_ = static_cast<std::uint32_t>(size() + elements.size());
  }
  constexpr void check_index(std::size_t index) const {
    if (index >= size()) detail::throw_index_out_of_range(floe_type_name, index, size());
  }

  std::uint32_t size_ = 0;
  T elements_[N] = {};
};

}  // namespace floe
