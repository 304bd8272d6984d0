#pragma once
// How the typed ports show a chunk's payload and begin a loaned one: the object itself for a
// fixed payload type, a std::span of the message's length for a floe::Slice<T>. The length
// comes only from the ChunkView the core filled (on loan: the length asked for; on receive: the
// length it validated against the chunk), never from shared memory again.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#include "floe/detail/ports.hpp"
#include "floe/slice.hpp"

namespace floe::detail {

/// A fixed payload: the object at the chunk's payload.
template <typename Payload>
struct PayloadAccess {
  /// What a loan's payload() gives.
  using Mutable = Payload&;
  /// What a received message's payload() gives.
  using Const = const Payload&;
  static Mutable mutable_at(std::byte* payload, std::uint64_t /*length*/) noexcept {
    return *object_at<Payload>(payload);
  }
  static Const const_at(std::byte* payload, std::uint64_t /*length*/) noexcept {
    return *object_at<const Payload>(payload);
  }
};

/// A slice: `length` elements from the chunk's payload (a 0-length span still points at the
/// payload start, aligned, never null). Not laundered as object_at does: a 0-length slice has
/// no object there to launder a pointer to.
template <typename T>
struct PayloadAccess<Slice<T>> {
  using Mutable = std::span<T>;
  using Const = std::span<const T>;
  static Mutable mutable_at(std::byte* payload, std::uint64_t length) noexcept {
    return {reinterpret_cast<T*>(payload), static_cast<std::size_t>(length)};
  }
  static Const const_at(std::byte* payload, std::uint64_t length) noexcept {
    return {reinterpret_cast<const T*>(payload), static_cast<std::size_t>(length)};
  }
};

// How a loaned slice's elements begin their life, as ValueInitialize / DefaultInitialize /
// CopyOf do for a fixed payload: value-initialized (loan_slice()), default-initialized so a
// large slice costs no zero fill (loan_slice_uninit()), or copied in one pass (send_copy()).
struct ValueInitializeElements {
  template <typename T>
  void operator()(T* at, std::uint64_t length) const {
    std::uninitialized_value_construct_n(at, length);
  }
};
struct DefaultInitializeElements {
  template <typename T>
  void operator()(T* at, std::uint64_t length) const {
    std::uninitialized_default_construct_n(at, length);
  }
};
template <typename T>
struct CopyOfElements {
  std::span<const T> values;  // exactly the loaned length
  void operator()(T* at, std::uint64_t /*length*/) const {
    // T is trivially copyable (ShmCompatible): the copy creates the elements. An empty span
    // may have no data() to copy from.
    if (!values.empty()) std::memcpy(static_cast<void*>(at), values.data(), values.size_bytes());
  }
};

/// What a port builder's initial_max_slice_len(n) and allocation_strategy(s) ask of the core:
/// nothing set, the service's max (SlicePolicy's 0); 0 is taken as 1, as for limits.
inline SlicePolicy slice_policy(const std::optional<std::uint64_t>& initial_max_slice_len,
                                AllocationStrategy strategy = AllocationStrategy::fixed) noexcept {
  if (!initial_max_slice_len) return SlicePolicy{0, strategy};
  return SlicePolicy{std::max<std::uint64_t>(*initial_max_slice_len, 1), strategy};
}

/// begin_chunk for a slice of `view.length` elements of T.
template <typename UserHeader, typename T, typename BeginElements>
void begin_slice_chunk(const ChunkView& view, BeginElements begin_elements) {
  begin_chunk<UserHeader, T>(view, [&](T* at) { begin_elements(at, view.length); });
}

}  // namespace floe::detail
