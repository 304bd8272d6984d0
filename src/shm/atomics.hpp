#pragma once
// Shared-memory layouts are plain, trivially copyable structs; the fields that processes race on
// are reached through std::atomic_ref, so the layout stays a checkable plain struct.

#include <atomic>
#include <cstdint>

namespace floe::detail {

template <typename T>
inline T load(T& field, std::memory_order order = std::memory_order_acquire) noexcept {
  return std::atomic_ref<T>(field).load(order);
}

template <typename T>
inline void store(T& field, T value, std::memory_order order = std::memory_order_release) noexcept {
  std::atomic_ref<T>(field).store(value, order);
}

template <typename T>
inline bool compare_exchange(T& field, T& expected, T desired) noexcept {
  return std::atomic_ref<T>(field).compare_exchange_strong(expected, desired,
                                                           std::memory_order_acq_rel);
}

template <typename T>
inline T fetch_add(T& field, T value) noexcept {
  return std::atomic_ref<T>(field).fetch_add(value, std::memory_order_acq_rel);
}

static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);

}  // namespace floe::detail
