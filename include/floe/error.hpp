#pragma once
// Errors of floe: a floe::Error carries a std::error_code of the "floe" category.

#include <string>
#include <system_error>

namespace floe {

enum class Errc : int {
  invalid_name = 1,
  service_does_not_exist,
  service_already_exists,
  incompatible_types,
  incompatible_limits,
  exceeds_max_clients,
  exceeds_max_servers,
  exceeds_max_nodes,
  exceeds_max_loans,
  exceeds_max_active_requests,
  // 11 was `disconnected`, never raised (a gone peer shows as is_connected() == false).
  timed_out = 12,
  cancelled,
  corrupted,
  invalid_config,
  no_runtime,
  io_setup_failed,
  permission_denied,
  /// The kernel cannot provide the shared memory a service needs (/dev/shm full or too small,
  /// address space exhausted): lower the limits or the payload size, or enlarge /dev/shm.
  out_of_memory,
};

const std::error_category& floe_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), floe_category()};
}

class Error : public std::system_error {
 public:
  Error(Errc code, const std::string& what) : std::system_error(make_error_code(code), what) {}
  Error(std::error_code code, const std::string& what) : std::system_error(code, what) {}
};

}  // namespace floe

template <>
struct std::is_error_code_enum<floe::Errc> : std::true_type {};
