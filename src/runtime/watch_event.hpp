#pragma once
// What the kernel hands back with a completion or an epoll event: what fired, and which entry
// of which generation (an entry reused since must not take an old event for its own).

#include <cstdint>

namespace floe::detail {

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
/// Whether an event packed with `generation` is for the entry as it is now.
constexpr bool same_generation(std::uint32_t generation, std::uint64_t data) noexcept {
  return (generation & 0x3fffffffu) == event_generation(data);
}

}  // namespace floe::detail
