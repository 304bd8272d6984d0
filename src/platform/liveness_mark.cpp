#include "platform/liveness_mark.hpp"

#include <fcntl.h>

#include <cerrno>

#include "platform/shared_memory.hpp"

namespace floe::detail {
namespace {

// 1 TiB: no segment comes near it, so a mark never covers a byte anyone maps.
constexpr off_t kFirstMark = off_t{1} << 40;

struct flock range_of(short type, std::uint32_t first, std::uint32_t count) noexcept {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = kFirstMark + static_cast<off_t>(first);
  range.l_len = static_cast<off_t>(count);
  range.l_pid = 0;  // required for open-file-description locks
  return range;
}

}  // namespace

bool hold_liveness_mark(int fd, std::uint32_t node) {
  struct flock mark = range_of(F_WRLCK, node, 1);
  if (::fcntl(fd, F_OFD_SETLK, &mark) == 0) return true;
  if (errno == EAGAIN || errno == EACCES) return false;
  throw_os_error(errno, "fcntl(F_OFD_SETLK) marking a node alive");
}

void drop_liveness_mark(int fd, std::uint32_t node) noexcept {
  struct flock mark = range_of(F_UNLCK, node, 1);
  ::fcntl(fd, F_OFD_SETLK, &mark);
}

bool is_marked_alive(int fd, std::uint32_t first, std::uint32_t count) noexcept {
  struct flock probe = range_of(F_WRLCK, first, count);
  if (::fcntl(fd, F_OFD_GETLK, &probe) != 0) return true;
  return probe.l_type != F_UNLCK;
}

}  // namespace floe::detail
