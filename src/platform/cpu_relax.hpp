#pragma once
// A spin-wait hint: tells the core this is a busy-wait loop, which lets a sibling hyperthread
// run and saves power; on other architectures a no-op.

namespace floe::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace floe::detail
