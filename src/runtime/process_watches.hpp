#pragma once
// The peer processes a backend watches, each through a pidfd. Watches outlive a single wait: a
// client asks about the same few servers request after request, and reopening their pidfds
// (plus reading /proc to check the start time) each time it sleeps would cost syscalls.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "floe/detail/wake_sources.hpp"
#include "platform/file_descriptor.hpp"
#include "platform/process.hpp"

namespace floe::detail {

/// What the kernel hands back with a completion or an epoll event: what fired, and which entry
/// of which generation (an entry reused since must not take an old event for its own).
enum class EventKind : std::uint64_t { ignored = 0, doorbell = 1, process = 2, interrupt = 3 };

constexpr std::uint64_t pack_event(EventKind kind, std::uint32_t generation,
                                   std::uint32_t index) noexcept {
  return (static_cast<std::uint64_t>(kind) << 62) |
         ((std::uint64_t{generation} & 0x3fffffffu) << 32) | index;
}
constexpr EventKind event_kind(std::uint64_t data) noexcept {
  return static_cast<EventKind>(data >> 62);
}
constexpr std::uint32_t event_generation(std::uint64_t data) noexcept {
  return static_cast<std::uint32_t>((data >> 32) & 0x3fffffffu);
}
constexpr std::uint32_t event_index(std::uint64_t data) noexcept {
  return static_cast<std::uint32_t>(data & 0xffffffffu);
}

class ProcessWatches {
 public:
  struct Watch {
    ProcessIdentity process;
    FileDescriptor handle;  // empty: a free entry
    std::uint32_t generation = 0;
    bool in_flight = false;  // io_uring: a poll request is submitted
    bool wanted = false;     // named in the current pass
  };

  void reserve(std::size_t n) { watches_.reserve(n); }

  void begin_pass() noexcept {
    for (Watch& w : watches_)
      w.wanted = false;
  }

  /// The watch of `process`, marked wanted; `opened` tells whether it is new. nullptr when the
  /// process is gone already.
  Watch* find_or_open(const ProcessIdentity& process, bool& opened) {
    opened = false;
    Watch* free_entry = nullptr;
    for (Watch& w : watches_) {
      if (w.handle && w.process == process) {
        w.wanted = true;
        return &w;
      }
      if (!w.handle && free_entry == nullptr) free_entry = &w;
    }
    FileDescriptor handle = open_process_handle(process);
    if (!handle) return nullptr;
    if (free_entry == nullptr) free_entry = &watches_.emplace_back();
    free_entry->process = process;
    free_entry->handle = std::move(handle);
    free_entry->in_flight = false;
    free_entry->wanted = true;
    ++free_entry->generation;
    opened = true;
    return free_entry;
  }

  /// Entries are dropped only when unwanted ones pile up.
  bool should_sweep() const noexcept { return watches_.size() > kKept; }

  std::uint32_t index_of(const Watch& w) const noexcept {
    return static_cast<std::uint32_t>(&w - watches_.data());
  }
  /// The live watch an event names, or nullptr if the entry was dropped or reused since.
  Watch* from_event(std::uint64_t data) noexcept {
    const std::uint32_t index = event_index(data);
    if (index >= watches_.size()) return nullptr;
    Watch& w = watches_[index];
    return w.handle && (w.generation & 0x3fffffffu) == event_generation(data) ? &w : nullptr;
  }
  static void drop(Watch& w) noexcept {
    w.handle.reset();
    w.in_flight = false;
    ++w.generation;
  }

  std::vector<Watch>& entries() noexcept { return watches_; }

 private:
  static constexpr std::size_t kKept = 16;
  std::vector<Watch> watches_;
};

}  // namespace floe::detail
