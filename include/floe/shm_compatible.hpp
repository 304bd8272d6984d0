#pragma once
// What may travel through shared memory, and how a type is described to other processes.

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace floe {

/// A payload or user header lives in shared memory that other processes map at other addresses,
/// so it must be a plain, self-contained value: copyable bit by bit, with a fixed layout and no
/// pointers into one process's memory.
template <typename T>
concept ShmCompatible =
    std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> && !std::is_pointer_v<T> &&
    !std::is_reference_v<T> && std::is_default_constructible_v<T> && alignof(T) <= 4096;

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

  /// The description of T (NoUserHeader: no name, size 0).
  template <typename T>
  static constexpr TypeInfo of() noexcept {
    if constexpr (std::is_same_v<T, NoUserHeader>) {
      return TypeInfo{"", 0, 1};
    } else {
      return TypeInfo{TypeName<T>::value(), sizeof(T), alignof(T)};
    }
  }
};

}  // namespace floe
