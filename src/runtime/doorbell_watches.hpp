#pragma once
// The doorbells a backend waits on: each a futex word and the value it held when the loop
// announced its sleep, woken once the word moves on. Both backends keep theirs here and arm
// them their own way (io_uring: a FUTEX_WAIT request per word; epoll: the words handed to
// helper threads). Watches outlive a single wait: a word still awaited with the same value
// stays armed across sleeps, so a loop sleeping on the same ports adds nothing to a sleep.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/watch_event.hpp"

namespace floe::detail {

class DoorbellWatches {
 public:
  struct Watch {
    std::uint32_t* word = nullptr;  // nullptr: a free entry
    std::uint32_t expected = 0;
    std::uint32_t generation = 0;
    bool armed = false;   // the kernel or a helper thread waits on it
    bool wanted = false;  // named in the current pass
  };

  void reserve(std::size_t n) { watches_.reserve(n); }

  /// Starts a pass: a watch not named again by watch() is dropped by drop_unwanted().
  void begin_pass() noexcept {
    for (Watch& w : watches_)
      w.wanted = false;
  }

  /// Wake up once `*word` no longer holds `expected`. A watch armed for another value is
  /// disarmed: a fresh wait replaces it.
  void watch(std::uint32_t* word, std::uint32_t expected) {
    Watch* free_entry = nullptr;
    for (Watch& w : watches_) {
      if (w.word == word) {
        w.wanted = true;
        if (w.expected != expected) renew(w, expected);
        return;
      }
      if (w.word == nullptr && free_entry == nullptr) free_entry = &w;
    }
    if (free_entry == nullptr) free_entry = &watches_.emplace_back();
    free_entry->word = word;
    free_entry->wanted = true;
    renew(*free_entry, expected);
  }

  /// Frees the watches not named in this pass, calling `disarm(watch)` first for each armed
  /// one. True if any armed watch was dropped.
  template <typename Disarm>
  bool drop_unwanted(Disarm disarm) {
    bool dropped_armed = false;
    for (Watch& w : watches_) {
      if (w.word == nullptr || w.wanted) continue;
      if (w.armed) {
        disarm(w);
        dropped_armed = true;
      }
      w = Watch{nullptr, 0, w.generation + 1, false, false};
    }
    return dropped_armed;
  }

  /// Every watch counts as not armed (the helper threads were emptied).
  void disarm_all() noexcept {
    for (Watch& w : watches_)
      w.armed = false;
  }

  std::uint32_t index_of(const Watch& w) const noexcept {
    return static_cast<std::uint32_t>(&w - watches_.data());
  }
  std::uint64_t event_of(const Watch& w) const noexcept {
    return pack_event(EventKind::doorbell, w.generation, index_of(w));
  }
  /// The live watch an event names, or nullptr if the entry was dropped or renewed since.
  Watch* from_event(std::uint64_t data) noexcept {
    const std::uint32_t index = event_index(data);
    if (index >= watches_.size()) return nullptr;
    Watch& w = watches_[index];
    return w.word != nullptr && same_generation(w.generation, data) ? &w : nullptr;
  }

  std::vector<Watch>& entries() noexcept { return watches_; }

 private:
  static void renew(Watch& w, std::uint32_t expected) noexcept {
    w.expected = expected;
    w.armed = false;
    ++w.generation;
  }

  std::vector<Watch> watches_;
};

}  // namespace floe::detail
