#pragma once
// Domain and default limits: from the environment, a TOML file, or code.

#include <cstdint>
#include <filesystem>
#include <string>

#include "floe/limits.hpp"

namespace floe {

/// What happens when a receiver's buffer is full and safe overflow is off.
enum class Backpressure : std::uint8_t {
  discard,  ///< the entry is not delivered; the send reports it
  block,    ///< the sender waits until there is room or the receiver is gone
};

/// Where services live and the limits a service gets when its builder sets none.
struct Config {
  /// Services of one domain never see those of another.
  std::string domain = "default";
  /// Shared-memory objects are created readable and writable by their owner only (0600); with
  /// group access, by the owner's group too (0660), for services shared between users.
  bool group_access = false;
  /// The limits of request-response services whose builder does not set them.
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
  ///   max_clients = 16            # every limit of FLOE_REQUEST_RESPONSE_LIMITS
  static Config from_file(const std::filesystem::path& path);
};

}  // namespace floe
