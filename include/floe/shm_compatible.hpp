#pragma once
// What may travel through shared memory, and how a type is described to other processes.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "floe/slice.hpp"

namespace floe {

/// A payload or user header lives in shared memory that other processes map at other addresses,
/// so it must be a plain, self-contained value: copyable bit by bit, with a fixed layout and no
/// pointers into one process's memory.
/// detail::ShmCompatibleCheck says which clause a type fails.
template <typename T>
concept ShmCompatible =
    !std::is_reference_v<T> && !std::is_pointer_v<T> && std::is_trivially_copyable_v<T> &&
    std::is_standard_layout_v<T> && std::is_default_constructible_v<T> && alignof(T) <= 4096 &&
    sizeof(T) <= (std::uint64_t{1} << 32);

/// The user header of a service that has none.
struct NoUserHeader {};

/// The name a type is recorded under in the service. Specialize it (or give the type a
/// `static constexpr std::string_view floe_type_name`) when processes built by different
/// compilers or from different namespaces must agree on a name.
template <typename T>
struct TypeName {
  /// The recorded name: T::floe_type_name if there is one, else the compiler's spelling of T.
  static constexpr std::string_view value() noexcept {
    if constexpr (requires { T::floe_type_name; }) {
      return T::floe_type_name;
    } else {
      // The compiler spells the type inside its name for this function; cut it out so the
      // result is the same under g++ and clang++ for ordinary types.
      constexpr std::string_view full = __PRETTY_FUNCTION__;
      constexpr std::string_view marker = "T = ";
      constexpr auto begin = full.find(marker) + marker.size();
      constexpr auto end = full.find_first_of(";]", begin);
      return full.substr(begin, end - begin);
    }
  }
};

/// How a type is recorded in a service: checked by every process that opens it.
struct TypeInfo {
  std::string_view name;        ///< TypeName<T>::value(); empty for NoUserHeader
  std::uint64_t size = 0;       ///< sizeof(T)
  std::uint64_t alignment = 1;  ///< alignof(T)
  /// T is floe::Slice<E>: name, size and alignment are E's, each chunk holds a run of E.
  bool slice = false;

  /// The description of T (NoUserHeader: no name, size 0; Slice<E>: E's, with `slice` set).
  template <typename T>
  static constexpr TypeInfo of() noexcept {
    if constexpr (std::is_same_v<T, NoUserHeader>) {
      return TypeInfo{"", 0, 1};
    } else if constexpr (detail::SliceTraits<T>::is_slice) {
      using Element = typename detail::SliceTraits<T>::element;
      return TypeInfo{TypeName<Element>::value(), sizeof(Element), alignof(Element), true};
    } else {
      return TypeInfo{TypeName<T>::value(), sizeof(T), alignof(T)};
    }
  }
};

namespace detail {

/// What ShmCompatibleCheck checks, named in the compiler's "required from" line.
struct checking_the_request_payload {};
struct checking_the_response_payload {};
struct checking_the_request_user_header {};
struct checking_the_response_user_header {};

/// The longest name a type may be recorded under.
inline constexpr std::size_t kMaxTypeNameBytes = 255;

/// Whether T has a floe_type_name member that is not a string.
template <typename T>
concept HasUnreadableTypeName = requires {
  T::floe_type_name;
}
&&!requires {
  std::string_view(T::floe_type_name);
};

/// The length of T's recorded name where it is known at compile time, else 1: a TypeName
/// specialization may compute it at run time (the service checks it when opened), and a
/// reference or an unreadable floe_type_name is reported by its own clause.
template <typename T>
consteval std::size_t constant_type_name_size() {
  if constexpr (std::is_reference_v<T> || HasUnreadableTypeName<T>) {
    return 1;
  } else if constexpr (requires {
                         typename std::integral_constant<std::size_t, TypeName<T>::value().size()>;
                       }) {
    return TypeName<T>::value().size();
  } else {
    return 1;
  }
}

/// Each clause of ShmCompatible as an assertion of its own, so that the compiler names the one
/// a type fails, and what to do about it. `Role` says which of a service's types T is.
template <typename T, typename Role>
struct ShmCompatibleCheck {
  static_assert(!std::is_reference_v<T>,
                "floe: a payload or user header cannot be a reference: name the type itself");
  static_assert(!std::is_pointer_v<T>,
                "floe: a payload or user header cannot be a pointer: an address means nothing in "
                "another process; send the value it points to, or an index");
  static_assert(std::is_reference_v<T> || std::is_trivially_copyable_v<T>,
                "floe: a payload or user header must be trivially copyable (no user-written copy, "
                "move or destructor, no virtual function): it is copied bit by bit between "
                "processes. A std::string, std::vector or other member that owns heap memory is "
                "not; use floe::FixedString<N> (floe/fixed_string.hpp) or floe::FixedVector<T, N> "
                "(floe/fixed_vector.hpp), or a fixed-size array such as std::array");
  static_assert(std::is_reference_v<T> || std::is_standard_layout_v<T>,
                "floe: a payload or user header must be standard layout (every data member with "
                "the same access, no virtual base, no reference member): every process must lay "
                "it out alike");
  static_assert(std::is_reference_v<T> || std::is_default_constructible_v<T>,
                "floe: a payload or user header must be default constructible: loan() "
                "value-initializes one in shared memory");
  static_assert(std::is_reference_v<T> || alignof(T) <= 4096,
                "floe: a payload or user header may be aligned to at most 4096 bytes (alignof), "
                "the alignment of a shared-memory page");
  static_assert(std::is_reference_v<T> || sizeof(T) <= (std::uint64_t{1} << 32),
                "floe: a payload or user header may be at most 4 GiB (sizeof)");
  static_assert(!HasUnreadableTypeName<T>,
                "floe: a type's floe_type_name must be a static constexpr std::string_view");
  static_assert(constant_type_name_size<T>() <= kMaxTypeNameBytes,
                "floe: a type's recorded name (its floe_type_name, else the compiler's spelling "
                "of it) is longer than 255 bytes: give the type a shorter static constexpr "
                "std::string_view floe_type_name");
  static_assert(constant_type_name_size<T>() != 0,
                "floe: a type's floe_type_name must not be empty");
  static constexpr bool value = true;
};

}  // namespace detail
}  // namespace floe
