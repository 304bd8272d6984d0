#include "ports/port_log.hpp"

#include <unistd.h>
#include <string>

#include "log.hpp"
#include "registry/service_segment.hpp"

namespace floe::detail {
namespace {

const char* name_of(PortLimit limit) noexcept {
  switch (limit) {
    case PortLimit::max_loaned_requests:
      return "max_loaned_requests";
    case PortLimit::request_chunks:
      return "its request chunks (every one loaned or held by a server)";
    case PortLimit::max_active_requests:
      return "max_active_requests";
    case PortLimit::max_borrowed_responses:
      return "max_borrowed_responses_per_pending_response";
    case PortLimit::max_loaned_responses:
      return "max_loaned_responses_per_request";
    case PortLimit::response_chunks:
      return "the response chunks of a request (every one queued or held by the client)";
  }
  return "a limit";
}

/// "service 'My/Funk' (domain default): client 2 of pid 1234".
std::string port_of(const ServiceSegment& segment, const char* port, std::uint32_t slot) {
  return segment.log_name() + ": " + port + " " + std::to_string(slot) + " of pid " +
         std::to_string(::getpid());
}

}  // namespace

void log_limit_once(std::uint8_t& logged, PortLimit limit, std::uint64_t value,
                    const ServiceSegment& segment, const char* port, std::uint32_t slot) noexcept {
  const auto bit = static_cast<std::uint8_t>(limit);
  if ((logged & bit) != 0) return;
  logged |= bit;
  log(LogLevel::warn, [&] {
    std::string text = port_of(segment, port, slot) + " hit " + name_of(limit);
    if (value != 0) text += " = " + std::to_string(value);
    return text + " (logged once per port)";
  });
}

void log_peer_dead(const ServiceSegment& segment, const char* port, std::uint32_t slot,
                   const char* peer, std::uint32_t peer_slot, std::uint64_t peer_pid,
                   const char* consequence) noexcept {
  log(LogLevel::info, [&] {
    return port_of(segment, port, slot) + " found " + peer + " " + std::to_string(peer_slot) +
           " of pid " + std::to_string(peer_pid) + " dead (its process is gone): " + consequence;
  });
}

void log_corrupted(const ServiceSegment& segment, const char* port, std::uint32_t slot,
                   const char* what) noexcept {
  log(LogLevel::error, [&] { return port_of(segment, port, slot) + ": " + what; });
}

}  // namespace floe::detail
