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
#include "runtime/watch_event.hpp"

namespace floe::detail {

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
    return w.handle && same_generation(w.generation, data) ? &w : nullptr;
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
