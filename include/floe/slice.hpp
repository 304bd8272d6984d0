#pragma once
// A payload that is a run of elements whose length each message chooses: floe::Slice<T>.

#include <cstdint>

namespace floe {

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

/// The most elements a slice may be given a max of (its length travels in 64 bits, but a
/// payload, as any floe payload, holds at most 4 GiB).
inline constexpr std::uint64_t kMaxSliceLen = (std::uint64_t{1} << 32) - 1;

}  // namespace detail
}  // namespace floe
