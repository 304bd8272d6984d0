#include "platform/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "platform/file_descriptor.hpp"

namespace floe::detail {
namespace {

struct ProcessStat {
  pid_t pid = 0;  // as the /proc read names it
  std::uint64_t start_time = 0;
};

std::optional<ProcessStat> read_stat(const char* path) noexcept {
  FileDescriptor fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buffer[1024];
  const ssize_t n = ::read(fd.get(), buffer, sizeof buffer - 1);
  if (n <= 0) return std::nullopt;
  buffer[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const char* p = std::strrchr(buffer, ')');
  if (p == nullptr || p[1] != ' ') return std::nullopt;
  ProcessStat stat;
  stat.pid = static_cast<pid_t>(std::strtol(buffer, nullptr, 10));
  int field = 2;
  for (; *p != '\0'; ++p) {
    if (*p == ' ' && ++field == 22) {
      stat.start_time = std::strtoull(p + 1, nullptr, 10);
      return stat;
    }
  }
  return std::nullopt;
}

}  // namespace

ProcessIdentity current_process() {
  // Forked children must not inherit their parent's identity, so it is not cached.
  const pid_t pid = ::getpid();
  const auto stat = read_stat("/proc/self/stat");
  // In a PID namespace of its own under its parent's /proc, /proc/<pid> is another process
  // (pid 1 is the host's init): then the start time is unknown, and nobody opens a pidfd on
  // the PID (death is noticed by liveness marks instead).
  const bool proc_is_ours = stat && stat->pid == pid;
  return ProcessIdentity{static_cast<std::uint64_t>(pid), proc_is_ours ? stat->start_time : 0};
}

FileDescriptor open_process_handle(const ProcessIdentity& process) noexcept {
  if (process.pid == 0 || process.pid > 0x3fffffff || process.start_time == 0) return {};
  FileDescriptor handle(
      static_cast<int>(::syscall(SYS_pidfd_open, static_cast<pid_t>(process.pid), 0)));
  if (!handle) return {};
  // The pidfd now pins the PID: if the start time still matches, it is the right process.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(process.pid));
  const auto stat = read_stat(path);
  if (!stat || stat->start_time != process.start_time) return {};
  return handle;
}

}  // namespace floe::detail
