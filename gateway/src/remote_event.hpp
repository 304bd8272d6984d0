#pragma once
// An event set from any thread (gRPC's) and awaited on the floe loop: the set wakes the loop
// (Reactor::interrupt), whose next poll completes the wait. Shared: the thread that sets it may
// outlive the coroutine that waits, or the reverse.

#include <floe/detail/operation.hpp>
#include <floe/detail/reactor.hpp>

#include <atomic>
#include <memory>
#include <stop_token>
#include <utility>

namespace floe::gateway {

class RemoteEvent {
 public:
  /// `loop`: the floe loop a set() wakes, which must outlive every set().
  explicit RemoteEvent(detail::Reactor& loop) noexcept : reactor_(&loop) {}

  /// From any thread.
  void set() noexcept {
    set_.store(true, std::memory_order_release);
    reactor_->interrupt();
  }
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }
  /// On the loop: clears it for the next wait.
  void reset() noexcept { set_.store(false, std::memory_order_relaxed); }

  class Wait : public detail::AwaitableOperation<Wait, void> {
   public:
    Wait(const RemoteEvent& event, std::stop_token token) noexcept : event_(&event) {
      set_stop_token(std::move(token));
    }
    Wait(Wait&&) noexcept = default;
    ~Wait() override { abandon(); }

   private:
    friend class detail::AwaitableOperation<Wait, void>;
    bool attempt() const noexcept { return event_->is_set(); }
    void take_value() const noexcept {}
    bool poll(const PollContext&) noexcept override { return attempt(); }
    const char* awaited() const noexcept override { return "the gRPC call"; }
    const RemoteEvent* event_;
  };
  /// `co_await event.wait()`: until set() (at once if it is set already); Errc::cancelled
  /// when `token` is stopped first.
  Wait wait(std::stop_token token = {}) const noexcept { return Wait(*this, std::move(token)); }

 private:
  detail::Reactor* reactor_;
  std::atomic<bool> set_{false};
};

}  // namespace floe::gateway
