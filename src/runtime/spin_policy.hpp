#pragma once
// Whether the runtime spins before it sleeps, learnt from how its recent spins ended.
//
// A spin pays off when the peer it waits for runs on another core: what it sends within the spin
// budget is taken without a sleep and a wake-up. When the peer needs this very core (both pinned
// to one CPU, or put on one by the scheduler) it cannot run while the loop spins: every spin
// ends empty-handed, and the data comes right after the loop gives the core up by sleeping. A
// round trip then cost two whole spin budgets (~60 us instead of ~12 us on one core). So after a
// few such futile spins in a row the loop sleeps at once, and spins again only once in a while,
// to notice when spinning pays again (the peer moved to another core).
//
// Sleeping at once rather than yielding (sched_yield) while spinning: a yield hands the core to
// whatever else is runnable on it, and a busy neighbour keeps it for the rest of its time slice
// (milliseconds), while a sleeping loop is woken, and preempts that neighbour, as soon as its
// data comes.

#include <chrono>
#include <cstdint>

namespace floe::detail {

class SpinPolicy {
 public:
  /// A spin that found nothing was futile when the loop, gone to sleep, was woken within this:
  /// the data came right after the spin gave up (a peer on this core; or one on another core a
  /// little slower than the budget, which the spin missed as well). A longer sleep was a pause
  /// in the traffic, which says nothing about spinning.
  static constexpr std::chrono::microseconds kSoonAfter{200};
  /// Futile spins in a row after which the loop sleeps without spinning.
  static constexpr std::uint32_t kFutileBeforeSkipping = 16;
  /// Meanwhile, one wait in this many still spins, to see whether that pays again.
  static constexpr std::uint32_t kProbeEvery = 16;

  /// Whether to spin before this wait.
  bool should_spin() noexcept {
    if (futile_in_a_row_ < kFutileBeforeSkipping) return true;
    if (++waits_without_spin_ < kProbeEvery) return false;
    waits_without_spin_ = 0;
    return true;
  }
  /// The spin found something, or the last look before sleeping did.
  void spin_paid() noexcept {
    futile_in_a_row_ = 0;
    waits_without_spin_ = 0;
  }
  /// The spin found nothing, and the loop then slept `asleep` in the kernel.
  void slept_after_spin(std::chrono::nanoseconds asleep) noexcept {
    if (asleep <= kSoonAfter && futile_in_a_row_ < kFutileBeforeSkipping) ++futile_in_a_row_;
  }

 private:
  std::uint32_t futile_in_a_row_ = 0;
  std::uint32_t waits_without_spin_ = 0;
};

}  // namespace floe::detail
