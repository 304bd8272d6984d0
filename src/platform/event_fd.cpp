#include "platform/event_fd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "floe/error.hpp"

namespace floe::detail {

EventFd::EventFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!fd_) {
    throw Error(
        Errc::io_setup_failed,
        std::string("floe: eventfd: cannot create one for the runtime: ") + std::strerror(errno));
  }
}

void EventFd::signal() const noexcept {
  const int saved_errno = errno;
  const std::uint64_t one = 1;
  while (::write(fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
  // Any other failure is EAGAIN: the counter is full, so the eventfd is readable already.
  errno = saved_errno;
}

bool EventFd::drain() const noexcept {
  std::uint64_t count = 0;
  for (;;) {
    if (::read(fd_.get(), &count, sizeof count) == sizeof count) return true;
    if (errno != EINTR) return false;  // EAGAIN: not signalled
  }
}

}  // namespace floe::detail
