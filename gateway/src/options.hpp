#pragma once
// What a floe-gateway process does, from its command line or its config file (--config): the
// options and their ranges are defined once, here, for both.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace floe::gateway {

/// An option's integer range, checked the same way on the command line and in the file.
struct IntRange {
  int min;
  int max;
  bool contains(long long value) const noexcept { return value >= min && value <= max; }
};

inline constexpr IntRange kKeepaliveMsRange{10, 3'600'000};
inline constexpr IntRange kWindowKibRange{16, 65'536};
inline constexpr IntRange kConnectTimeoutSRange{1, 3600};
inline constexpr IntRange kClientPortsRange{1, 4096};

/// PEM files. A gateway with none of them speaks plain TCP.
struct TlsFiles {
  std::filesystem::path cert;  ///< this gateway's certificate (chain)
  std::filesystem::path key;   ///< its private key
  /// Exporting: the CA that must have signed every importing gateway's certificate (mutual
  /// TLS). Importing: the CA that signed the exporting gateway's certificate (its default: the
  /// system's roots).
  std::filesystem::path ca;
  bool any() const noexcept { return !cert.empty() || !key.empty() || !ca.empty(); }
};

struct ExportOptions {
  std::string listen = "127.0.0.1:7755";
  std::vector<std::string> services;
  int keepalive_ms = 1000;
  /// The client ports each service may take (one of its max_clients slots each), opened as
  /// concurrent calls need them: calls beyond client_ports * max_active_requests_per_client
  /// wait for one to end.
  int client_ports = 2;
  TlsFiles tls;
};

struct ImportOptions {
  std::string connect = "127.0.0.1:7755";
  std::vector<std::string> services;
  int keepalive_ms = 1000;
  /// The bytes of one call's responses that may be on their way between the gateways (gRPC's
  /// per-call flow-control window): a client that stops reading holds the remote server back
  /// once this much waits.
  int window_kib = 256;
  int connect_timeout_s = 10;
  TlsFiles tls;
  /// The name the exporting gateway's certificate must carry, when not the --connect host.
  std::string tls_server_name;
};

struct GatewayOptions {
  std::optional<ExportOptions> exporting;
  std::optional<ImportOptions> importing;
};

/// The [export] and [import] tables of a TOML file (paths in it are relative to the file's
/// folder). Throws floe::Error (Errc::invalid_config) naming the file, line and column.
GatewayOptions read_options_file(const std::filesystem::path& path);

}  // namespace floe::gateway
