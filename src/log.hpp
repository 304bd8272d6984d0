#pragma once
// floe's own side of floe/log.hpp: how its layers raise an event. A message is built only when
// its level is on; a call where the level is off costs one relaxed atomic load and a compare,
// which is why none is made on a message's way (loan, send, receive, notify succeeding).

#include <string>
#include <string_view>

#include "floe/log.hpp"

namespace floe::detail {

/// Whether events of `level` are logged now (reads FLOE_LOG on the process's first call).
bool log_enabled(LogLevel level) noexcept;

/// Hands the line to the sink; the level is not looked at again. Never throws.
void write_log(LogLevel level, std::string_view message) noexcept;

/// Logs the message `make_message()` returns, calling it only if `level` is on. Never throws:
/// a message that cannot be built (out of memory) is not logged.
template <class MakeMessage>
void log(LogLevel level, MakeMessage&& make_message) noexcept {
  if (!log_enabled(level)) return;
  try {
    write_log(level, make_message());
  } catch (...) {
  }
}

/// "service 'My/Funk' (domain default)": how every event about a service names it.
std::string service_in_domain(std::string_view service, std::string_view domain);

}  // namespace floe::detail
