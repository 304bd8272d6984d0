#include "log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace floe {
namespace {

/// The level before anything set it and before FLOE_LOG was read.
constexpr int kUnread = -1;

std::atomic<int> current_level{kUnread};

/// The sink and the mutex that serializes its calls. Never destroyed: a static destructor of
/// another object may still log while the process exits.
struct SinkState {
  std::mutex mutex;
  LogSink sink;
};

SinkState& sink_state() {
  static SinkState* const state = new SinkState;
  return *state;
}

/// Set while this thread runs the sink: what floe logs from inside it is dropped, rather than
/// deadlocking on the sink's mutex.
thread_local bool running_sink = false;

/// Writes all of `text` to stderr, as one write(2) where the kernel allows: lines of several
/// processes sharing a terminal or a pipe do not interleave.
void write_stderr(std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t written = ::write(STDERR_FILENO, text.data(), text.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

int level_from_environment() noexcept {
  const char* value = std::getenv("FLOE_LOG");
  if (value == nullptr || *value == '\0') return static_cast<int>(LogLevel::off);
  for (LogLevel level :
       {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error, LogLevel::off}) {
    if (to_string(level) == value) return static_cast<int>(level);
  }
  try {
    write_stderr("floe: FLOE_LOG='" + std::string(value) +
                 "' is not a log level; want debug, info, warn, error or off. Logging is off\n");
  } catch (...) {
  }
  return static_cast<int>(LogLevel::off);
}

int level_read_once() noexcept {
  // Read once per process, whichever thread comes first; a level set meanwhile wins.
  static const int from_environment = level_from_environment();
  int expected = kUnread;
  current_level.compare_exchange_strong(expected, from_environment, std::memory_order_relaxed);
  return current_level.load(std::memory_order_relaxed);
}

}  // namespace

LogLevel log_level() noexcept {
  const int level = current_level.load(std::memory_order_relaxed);
  return static_cast<LogLevel>(level == kUnread ? level_read_once() : level);
}

void set_log_level(LogLevel level) noexcept {
  current_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void set_log_sink(LogSink sink) {
  SinkState& state = sink_state();
  std::unique_lock lock(state.mutex);
  std::swap(state.sink, sink);
  lock.unlock();
  // `sink` now holds the previous one, destroyed here, outside the lock.
}

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
    case LogLevel::off:
      return "off";
  }
  return "off";
}

namespace detail {

bool log_enabled(LogLevel level) noexcept {
  return static_cast<int>(level) >= static_cast<int>(log_level());
}

void write_log(LogLevel level, std::string_view message) noexcept {
  if (running_sink) return;
  try {
    SinkState& state = sink_state();
    const std::lock_guard lock(state.mutex);
    running_sink = true;
    try {
      if (state.sink) {
        state.sink(level, message);
      } else {
        std::string line = "floe[pid " + std::to_string(::getpid()) + "] ";
        line.append(to_string(level)).append(": ").append(message).append("\n");
        write_stderr(line);
      }
    } catch (...) {
      // A sink's failure is not the caller's: floe goes on as if the line had been written.
    }
    running_sink = false;
  } catch (...) {
  }
}

std::string service_in_domain(std::string_view service, std::string_view domain) {
  std::string text = "service '";
  text.append(service).append("' (domain ").append(domain).append(")");
  return text;
}

}  // namespace detail
}  // namespace floe
