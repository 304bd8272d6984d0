#pragma once
// Domain and default limits: from the environment, a TOML file, or code.

#include <cstdint>
#include <filesystem>
#include <string>

namespace floe {

/// What happens when a receiver's buffer is full and safe overflow is off.
enum class Backpressure : std::uint8_t {
  discard,  ///< the entry is not delivered; the send reports it
  block,    ///< the sender waits until there is room or the receiver is gone
};

/// The limits of a request-response service. Every buffer is sized from them when the service is
/// created, so memory use is fixed from then on.
struct RequestResponseLimits {
  std::uint32_t max_clients = 8;
  std::uint32_t max_servers = 2;
  std::uint32_t max_nodes = 20;
  std::uint32_t max_active_requests_per_client = 4;
  std::uint32_t max_loaned_requests = 2;
  std::uint32_t max_response_buffer_size = 8;
  std::uint32_t max_borrowed_responses_per_pending_response = 2;
  std::uint32_t max_loaned_responses_per_request = 2;
  bool enable_fire_and_forget_requests = false;
  bool enable_safe_overflow_for_requests = true;
  bool enable_safe_overflow_for_responses = true;

  friend bool operator==(const RequestResponseLimits&, const RequestResponseLimits&) = default;
};

struct Config {
  /// Services of one domain never see those of another.
  std::string domain = "default";
  /// Shared-memory objects are created readable and writable by their owner only (0600); with
  /// group access, by the owner's group too (0660), for services shared between users.
  bool group_access = false;
  RequestResponseLimits request_response;

  /// FLOE_DOMAIN and the file named by FLOE_CONFIG, else /etc/floe/floe.toml when present, else
  /// the built-in defaults. Throws floe::Error(Errc::invalid_config) for a file it cannot use.
  static Config from_environment();

  /// Reads a TOML file (a regular file: anything else is refused without being waited on).
  /// Unknown keys and sections are errors, so a misspelt limit cannot go unnoticed; every
  /// error is floe::Error(Errc::invalid_config) and says file:line:column where it can:
  ///   [global]
  ///   domain = "test"
  ///   group_access = false
  ///   [defaults.request_response]
  ///   max_clients = 16            # every field of RequestResponseLimits
  static Config from_file(const std::filesystem::path& path);
};

}  // namespace floe
