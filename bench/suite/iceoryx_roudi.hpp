#pragma once
// The iox-roudi daemon of one iceoryx row: the row starts it with a config of its own (the
// mempools its messages need), waits until it is ready, and stops it by its pid when done,
// checking that it took its shared memory and sockets with it.

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace floe::bench {

class RouDiDaemon {
 public:
  /// A mempool of RouDi's config: `count` chunks, each with room for `payload_size` bytes after
  /// iceoryx's chunk header.
  struct Mempool {
    std::uint32_t payload_size;
    std::uint32_t count;
  };

  /// Starts `executable` (iox-roudi) with a config holding `mempools`, written to a temporary
  /// directory with RouDi's log, and waits (bounded) until it says it is ready for clients.
  RouDiDaemon(const char* executable, const std::vector<Mempool>& mempools);
  RouDiDaemon(const RouDiDaemon&) = delete;
  RouDiDaemon& operator=(const RouDiDaemon&) = delete;
  /// stop() if not done.
  ~RouDiDaemon();

  /// Empty when RouDi is ready for clients; else why not.
  const std::string& error() const noexcept { return error_; }

  /// Stops RouDi: SIGTERM, SIGKILL if it has not exited after a bound. Then compares RouDi's
  /// objects under /dev/shm and /tmp with those there before it started and removes what it left.
  /// Returns what went wrong (killed, objects left and removed), empty for a clean stop.
  std::string stop();

 private:
  /// Removes the iceoryx objects RouDi (or a process it served) left, returning which.
  std::string remove_leftovers() const;
  /// What RouDi logged last, for an error message.
  std::string log_tail() const;

  pid_t pid_ = -1;
  std::string directory_;
  std::set<std::string> objects_before_;
  std::string error_;
};

}  // namespace floe::bench
