#pragma once
// The one ownership rule of the message types (RequestMut, PendingResponse, Response,
// ResponseMut, ActiveRequest): each holds one thing its port lent out, moving hands it over and
// leaves the source empty, and destroying or assigning over a handle gives back what it held,
// exactly once. Written here once so each type keeps only what it adds (payload access, send).

#include <utility>

namespace floe::detail {

/// Move-only ownership of `Held`, something lent by the port reached through `Owner` (a raw or
/// shared pointer to a port's core). `Held::let_go(core, held)` gives it back.
template <typename Owner, typename Held>
class UniqueHandle {
 public:
  /// Holds nothing.
  UniqueHandle() noexcept = default;
  /// Holds `held`, lent by `*owner`.
  UniqueHandle(Owner owner, const Held& held) noexcept : owner_(std::move(owner)), held_(held) {}
  /// Takes over what `other` held; `other` holds nothing any more.
  UniqueHandle(UniqueHandle&& other) noexcept
      : owner_(std::move(other.owner_)), held_(other.held_) {
    other.owner_ = nullptr;
  }
  /// Gives back what this held, then takes over `other`'s.
  // g++ 12 warns that assigning into a std::optional it cannot prove disengaged reads this
  // handle's members uninitialized (GCC bug 80635: it follows the engaged branch of
  // optional::operator= after reset()). Every member here has an initializer, so the warning
  // can only be that false positive; it is silenced for this function alone, so users' own
  // -Werror builds do not trip on `std::optional<PendingResponse> p; ...; p = send()`.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) {
      reset();
      owner_ = std::move(other.owner_);
      other.owner_ = nullptr;
      held_ = other.held_;
    }
    return *this;
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  /// Gives back what this holds.
  ~UniqueHandle() {
    reset();
  }

  /// True while this holds something.
  explicit operator bool() const noexcept {
    return owner_ != nullptr;
  }
  /// The port's core; only while this holds something.
  auto& core() const noexcept {
    return *owner_;
  }
  /// What is held (the last thing held, once empty).
  const Held& held() const noexcept {
    return held_;
  }
  /// Stops holding without giving back (the held thing was handed over, a request sent, say),
  /// and returns the way to its port.
  Owner hand_over() noexcept {
    return std::exchange(owner_, nullptr);
  }
  /// Gives back what this holds, if anything.
  void reset() noexcept {
    if (owner_ != nullptr) Held::let_go(*std::exchange(owner_, nullptr), held_);
  }

 private:
  Owner owner_ = nullptr;
  Held held_{};
};

}  // namespace floe::detail
