#pragma once
// A payload that is a run of elements whose length each message chooses: floe::Slice<T>.

#include <cstdint>

namespace floe {

/// What a port does with a slice loan longer than it may loan now (its initial_max_slice_len,
/// or what it grew to): `fixed` refuses it with floe::Error(exceeds_max_slice_len), as memory
/// fixed once created is floe's default; the others grow the port. Up to the service's
/// request_max_slice_len / response_max_slice_len the port just raises its cap (every chunk has
/// room for that many); beyond, it creates a data segment of its own whose slots hold the new
/// max: exactly the length loaned (`best_fit`), or the next power of two (`power_of_two`, fewer
/// growths for lengths that creep up). Growing is a slow path (system calls, tens of ms for
/// hundreds of MiB); a port grows at most 255 times and keeps at most 8 data segments alive.
enum class AllocationStrategy : std::uint8_t {
  fixed,         ///< never grow: a longer loan throws
  power_of_two,  ///< grow to the next power of two at least the length loaned
  best_fit,      ///< grow to exactly the length loaned
};

/// Names a payload that is a run of `T`, its length chosen by each message (0 up to the
/// service's max, request_max_slice_len / response_max_slice_len), as in
/// `request_response<floe::Slice<std::byte>, Reply>()`. A tag only: nothing of type Slice is
/// ever stored; the elements are, one after another, each a floe::ShmCompatible T.
template <typename T>
struct Slice {
  /// The type of each element.
  using element_type = T;
};

namespace detail {

/// Whether a payload type P is a slice, and the type its chunks hold: P itself for a fixed
/// payload, the element type for a slice.
template <typename P>
struct SliceTraits {
  static constexpr bool is_slice = false;
  using element = P;
};
template <typename T>
struct SliceTraits<Slice<T>> {
  static constexpr bool is_slice = true;
  using element = T;
};

}  // namespace detail

/// The most elements a slice may hold, and the max_slice_len() of a port that grows (its
/// length travels in 64 bits, but a payload, as any floe payload, holds at most 4 GiB).
inline constexpr std::uint64_t kMaxSliceLen = (std::uint64_t{1} << 32) - 1;
}  // namespace floe
