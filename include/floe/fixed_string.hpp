#pragma once
// A string that can travel in a payload: at most N characters stored in place, no heap.

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "floe/detail/fixed_capacity.hpp"

namespace floe {

/// Up to N chars stored inside the object, so a payload or user header may hold text
/// (`std::string` cannot: it points into one process's heap). Trivially copyable, standard layout;
/// loan() gives an empty one.
///
/// Writes that would pass the capacity throw floe::Error(Errc::exceeds_capacity) and change
/// nothing (assign, append, push_back, the string_view constructor); truncating is always asked
/// for by name (truncated, append_truncated) and try_ forms return false instead. A string
/// literal longer than N does not compile.
///
/// The length is stored beside the characters, and a received string's length is another
/// process's word: every read is bounded by N whatever it says. No terminating '\0' is promised
/// (a peer may overwrite it): read through view(), str() or operator<<, not as a C string.
template <std::size_t N>
class FixedString {
  static_assert(N > 0, "floe::FixedString<N>: N must be at least 1");
  static_assert(N < (std::size_t{1} << 32), "floe::FixedString<N>: N must be below 2^32");

  static constexpr std::string_view kPrefix = "floe::FixedString<";
  static constexpr auto kName = detail::compose_name<N, kPrefix>();

 public:
  using value_type = char;
  using size_type = std::size_t;
  using iterator = char*;
  using const_iterator = const char*;

  /// The name services record, the same under every compiler ("floe::FixedString<N>").
  static constexpr std::string_view floe_type_name = kName.view();

  /// Empty.
  constexpr FixedString() noexcept = default;
  /// From a string literal that fits: a longer one does not compile.
  template <std::size_t M>
  constexpr FixedString(const char (&literal)[M]) noexcept {  // NOLINT: implicit by design
    static_assert(M - 1 <= N, "floe::FixedString<N>: the string literal is longer than N");
    assign_unchecked(std::string_view(literal, M - 1));
  }
  /// A copy of `text`. Throws floe::Error(Errc::exceeds_capacity) if it is longer than N.
  explicit constexpr FixedString(std::string_view text) { assign(text); }

  /// The first N characters of `text`: truncation asked for by name.
  static constexpr FixedString truncated(std::string_view text) noexcept {
    FixedString result;
    result.assign_unchecked(text.substr(0, N));
    return result;
  }

  /// N: the most characters it holds.
  static constexpr std::size_t capacity() noexcept { return N; }
  /// The characters held (never more than N, whatever a peer wrote).
  constexpr std::size_t size() const noexcept { return std::min<std::size_t>(size_, N); }
  constexpr std::size_t length() const noexcept { return size(); }
  constexpr bool empty() const noexcept { return size() == 0; }
  /// Whether it holds N characters.
  constexpr bool full() const noexcept { return size() == N; }

  constexpr const char* data() const noexcept { return chars_; }
  constexpr char* data() noexcept { return chars_; }
  constexpr std::string_view view() const noexcept { return {chars_, size()}; }
  constexpr operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit
  /// A std::string copy, for code that needs one.
  std::string str() const { return std::string(view()); }

  constexpr char& operator[](std::size_t index) noexcept { return chars_[index]; }
  constexpr const char& operator[](std::size_t index) const noexcept { return chars_[index]; }
  /// The character at `index`; throws std::out_of_range at or past size().
  constexpr char& at(std::size_t index) {
    check_index(index);
    return chars_[index];
  }
  constexpr const char& at(std::size_t index) const {
    check_index(index);
    return chars_[index];
  }
  constexpr char& front() noexcept { return chars_[0]; }
  constexpr char& back() noexcept { return chars_[size() - 1]; }
  constexpr char* begin() noexcept { return chars_; }
  constexpr char* end() noexcept { return chars_ + size(); }
  constexpr const char* begin() const noexcept { return chars_; }
  constexpr const char* end() const noexcept { return chars_ + size(); }

  /// Replaces the text; throws floe::Error(Errc::exceeds_capacity) (unchanged) past N.
  constexpr FixedString& assign(std::string_view text) {
    if (text.size() > N) detail::throw_exceeds_capacity(floe_type_name, N, 0, text.size());
    assign_unchecked(text);
    return *this;
  }
  constexpr void clear() noexcept { assign_unchecked({}); }

  /// Appends `c`; throws floe::Error(Errc::exceeds_capacity) (unchanged) when full.
  constexpr void push_back(char c) {
    if (!try_push_back(c)) detail::throw_exceeds_capacity(floe_type_name, N, size(), 1);
  }
  /// Appends `c` if there is room; false (unchanged) when full.
  constexpr bool try_push_back(char c) noexcept { return try_append(std::string_view(&c, 1)); }
  /// Removes the last character, if any.
  constexpr void pop_back() noexcept {
    if (!empty()) set_size(size() - 1);
  }

  /// Appends all of `text`, or throws floe::Error(Errc::exceeds_capacity) and appends nothing.
  constexpr FixedString& append(std::string_view text) {
    if (!try_append(text)) detail::throw_exceeds_capacity(floe_type_name, N, size(), text.size());
    return *this;
  }
  /// Appends all of `text` if it fits; false (unchanged) if not.
  constexpr bool try_append(std::string_view text) noexcept {
    if (text.size() > N - size()) return false;
    append_unchecked(text);
    return true;
  }
  /// Appends as much of `text` as fits and returns how many characters that was.
  constexpr std::size_t append_truncated(std::string_view text) noexcept {
    const std::string_view fitting = text.substr(0, N - size());
    append_unchecked(fitting);
    return fitting.size();
  }
  constexpr FixedString& operator+=(std::string_view text) { return append(text); }
  constexpr FixedString& operator+=(char c) {
    push_back(c);
    return *this;
  }

  /// Sets the length to `count`, new characters `fill`; throws floe::Error(Errc::exceeds_capacity)
  /// (unchanged) past N.
  constexpr void resize(std::size_t count, char fill = '\0') {
    if (count > N) detail::throw_exceeds_capacity(floe_type_name, N, 0, count);
    for (std::size_t i = size(); i < count; ++i)
      chars_[i] = fill;
    set_size(count);
  }

  friend constexpr bool operator==(const FixedString& a, std::string_view b) noexcept {
    return a.view() == b;
  }
  friend constexpr std::strong_ordering operator<=>(const FixedString& a,
                                                    std::string_view b) noexcept {
    return a.view() <=> b;
  }
  template <std::size_t M>
  friend constexpr bool operator==(const FixedString& a, const FixedString<M>& b) noexcept {
    return a.view() == b.view();
  }
  template <std::size_t M>
  friend constexpr std::strong_ordering operator<=>(const FixedString& a,
                                                    const FixedString<M>& b) noexcept {
    return a.view() <=> b.view();
  }
  friend std::ostream& operator<<(std::ostream& out, const FixedString& text) {
    return out << text.view();
  }

 private:
  constexpr void set_size(std::size_t size) noexcept {
    size_ = static_cast<std::uint32_t>(size);
    chars_[size] = '\0';  // a courtesy to debuggers and C APIs given data(); not relied upon
  }
  constexpr void assign_unchecked(std::string_view text) noexcept {
    std::copy(text.begin(), text.end(), chars_);
    set_size(text.size());
  }
  constexpr void append_unchecked(std::string_view text) noexcept {
    std::copy(text.begin(), text.end(), chars_ + size());
    set_size(size() + text.size());
  }
  constexpr void check_index(std::size_t index) const {
    if (index >= size()) detail::throw_index_out_of_range(floe_type_name, index, size());
  }

  std::uint32_t size_ = 0;
  char chars_[N + 1] = {};
};

}  // namespace floe
