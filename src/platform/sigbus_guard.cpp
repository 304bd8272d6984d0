#include "platform/sigbus_guard.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "floe/error.hpp"

namespace floe::detail {

// A slot is read by the signal handler, so the registry is lock-free: fixed blocks of slots in a
// list that only grows (a process guards a few ranges per service it holds open).
struct GuardSlot {
  enum State : std::uint32_t { free, claimed, guarding };
  std::atomic<std::uint32_t> state{free};
  std::atomic<std::uint32_t> handlers{0};  // handlers looking at this slot right now
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::size_t> length{0};
  std::atomic<bool> damaged{false};
};

namespace {

static_assert(std::atomic<std::uintptr_t>::is_always_lock_free &&
              std::atomic<std::uint32_t>::is_always_lock_free &&
              std::atomic<bool>::is_always_lock_free);

struct GuardBlock {
  GuardSlot slots[64];
  std::atomic<GuardBlock*> next{nullptr};
};

GuardBlock first_block;
struct sigaction previous_action {};

/// Replaces the range with private zero pages if the fault lies in it. True if it did.
bool absorb(GuardSlot& slot, std::uintptr_t address) noexcept {
  if (slot.state.load(std::memory_order_acquire) != GuardSlot::guarding) return false;
  // Sequentially consistent with release(): either it sees this handler counted, or this
  // handler sees the slot no longer guarding.
  slot.handlers.fetch_add(1);
  bool absorbed = false;
  if (slot.state.load() == GuardSlot::guarding) {
    const std::uintptr_t begin = slot.begin.load(std::memory_order_relaxed);
    const std::size_t length = slot.length.load(std::memory_order_relaxed);
    if (address - begin < length) {
      // mmap is a plain system call, safe here; the faulting access is retried on return.
      void* replaced = ::mmap(reinterpret_cast<void*>(begin), length, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (replaced != MAP_FAILED) {
        slot.damaged.store(true, std::memory_order_release);
        absorbed = true;
      }
    }
  }
  slot.handlers.fetch_sub(1);
  return absorbed;
}

/// Passes a SIGBUS that is not floe's on as if floe's handler had never been installed.
void pass_on(int signal, siginfo_t* info, void* context) noexcept {
  if ((previous_action.sa_flags & SA_SIGINFO) != 0 && previous_action.sa_sigaction != nullptr) {
    previous_action.sa_sigaction(signal, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(signal);
    return;
  }
  // The default action, which a fault cannot ignore: restore it; a fault is raised again when
  // the instruction is retried, a sent signal is raised again here.
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  ::sigemptyset(&fallback.sa_mask);
  ::sigaction(signal, &fallback, nullptr);
  if (info->si_code <= 0) ::raise(signal);
}

void on_sigbus(int signal, siginfo_t* info, void* context) noexcept {
  const int saved_errno = errno;
  if (info->si_code > 0) {  // raised by a fault, not sent
    const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (GuardBlock* block = &first_block; block != nullptr;
         block = block->next.load(std::memory_order_acquire)) {
      for (GuardSlot& slot : block->slots) {
        if (absorb(slot, address)) {
          errno = saved_errno;
          return;
        }
      }
    }
  }
  pass_on(signal, info, context);
  errno = saved_errno;
}

void install_handler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    ::sigemptyset(&action.sa_mask);
    if (::sigaction(SIGBUS, &action, &previous_action) != 0) {
      const int error = errno;
      throw Error(
          std::error_code(error, std::generic_category()),
          std::string("floe: cannot install the SIGBUS guard: sigaction: ") + std::strerror(error));
    }
  });
}

GuardSlot& claim_slot() {
  for (GuardBlock* block = &first_block;;) {
    for (GuardSlot& slot : block->slots) {
      std::uint32_t expected = GuardSlot::free;
      if (slot.state.compare_exchange_strong(expected, GuardSlot::claimed,
                                             std::memory_order_acq_rel)) {
        return slot;
      }
    }
    GuardBlock* next = block->next.load(std::memory_order_acquire);
    if (next == nullptr) {
      // Blocks are never freed: the handler may be walking them at any time.
      auto* grown = new GuardBlock;
      if (block->next.compare_exchange_strong(next, grown, std::memory_order_acq_rel)) {
        next = grown;
      } else {
        delete grown;  // another thread added one first; `next` is it
      }
    }
    block = next;
  }
}

}  // namespace

SigbusGuard::SigbusGuard(void* begin, std::size_t length) {
  install_handler();
  GuardSlot& slot = claim_slot();
  slot.begin.store(reinterpret_cast<std::uintptr_t>(begin), std::memory_order_relaxed);
  slot.length.store(length, std::memory_order_relaxed);
  slot.damaged.store(false, std::memory_order_relaxed);
  slot.state.store(GuardSlot::guarding, std::memory_order_release);
  slot_ = &slot;
}

SigbusGuard::SigbusGuard(SigbusGuard&& other) noexcept
    : slot_(std::exchange(other.slot_, nullptr)) {}

SigbusGuard& SigbusGuard::operator=(SigbusGuard&& other) noexcept {
  if (this != &other) {
    release();
    slot_ = std::exchange(other.slot_, nullptr);
  }
  return *this;
}

SigbusGuard::~SigbusGuard() {
  release();
}

void SigbusGuard::release() noexcept {
  if (slot_ == nullptr) return;
  slot_->state.store(GuardSlot::claimed);
  // A handler that saw the slot guarding finishes before the range may be unmapped.
  while (slot_->handlers.load() != 0)
    std::this_thread::yield();
  slot_->state.store(GuardSlot::free, std::memory_order_release);
  slot_ = nullptr;
}

bool SigbusGuard::damaged() const noexcept {
  return slot_ != nullptr && slot_->damaged.load(std::memory_order_acquire);
}

void SigbusGuard::mark_damaged() noexcept {
  if (slot_ != nullptr) slot_->damaged.store(true, std::memory_order_release);
}

const std::atomic<bool>* SigbusGuard::damaged_flag() const noexcept {
  return slot_ != nullptr ? &slot_->damaged : nullptr;
}

}  // namespace floe::detail
