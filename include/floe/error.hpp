#pragma once
// Errors of floe: a floe::Error carries a std::error_code of the "floe" category.

#include <stdexcept>
#include <string>
#include <system_error>

namespace floe {

/// What went wrong; every floe::Error carries one, and its message says the particulars.
enum class Errc : int {
  invalid_name = 1,             ///< a node or service name floe cannot use (see Node)
  service_does_not_exist,       ///< open() of a service nobody created
  service_already_exists,       ///< create() of a service that is there
  incompatible_types,           ///< payload or user-header types differ from the service's
  incompatible_limits,          ///< the limits asked for differ from the service's
  exceeds_max_clients,          ///< every client slot of the service is taken
  exceeds_max_servers,          ///< every server slot of the service is taken
  exceeds_max_nodes,            ///< the service is open in as many processes as it allows
  exceeds_max_loans,            ///< the port holds as many loaned chunks as it may
  exceeds_max_active_requests,  ///< the client has as many requests open as it may
  // 11 was `disconnected`, never raised (a gone peer shows as is_connected() == false).
  timed_out = 12,     ///< a wait's deadline passed
  cancelled,          ///< a wait was cancelled (stop token, Runtime::stop(), Asio, its port gone)
  corrupted,          ///< shared memory holds what no correct peer writes
  invalid_config,     ///< a config file or a limit floe cannot use
  no_runtime,         ///< a co_await outside any floe Runtime or Asio loop
  io_setup_failed,    ///< the kernel refused io_uring, epoll, an eventfd or a pidfd
  permission_denied,  ///< the service belongs to another user and is not shared with this one
  /// The kernel cannot provide the shared memory a service needs (/dev/shm full or too small,
  /// address space exhausted): lower the limits or the payload size, or enlarge /dev/shm.
  out_of_memory,
  /// The service's attributes lack a key or value the opener requires (AttributeVerifier).
  incompatible_attributes,
  /// An attribute floe cannot store: empty, too long, or one too many (floe/attributes.hpp).
  invalid_attributes,
  /// No server was connected before the deadline of floe::call (or the request reached none):
  /// start the server, or wait longer (Client::wait_for_server).
  no_server,
  /// floe::call's request reached a server but its stream ended without a response: the server
  /// dropped the ActiveRequest unanswered, or its process died (PendingResponse::end_reason()).
  no_response,
  /// A floe::FixedString or floe::FixedVector was asked to hold more than its capacity N; it is
  /// unchanged. Use a larger N, or truncate explicitly (truncated, append_truncated, try_...).
  exceeds_capacity,
  /// A slice loan of more elements than the port may loan (its initial_max_slice_len, at most
  /// the service's request_max_slice_len / response_max_slice_len); nothing was loaned. Loan
  /// fewer, or create the port (or the service) with a larger max.
  exceeds_max_slice_len,
};

/// The category of floe's error codes, named "floe".
const std::error_category& floe_category() noexcept;

/// Makes `std::error_code ec = Errc::timed_out;` and comparisons with Errc work.
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), floe_category()};
}

/// The exception every floe call throws: code() compares equal to an Errc, and what() is the
/// message alone ("floe: ..."), saying what went wrong and what to do about it.
class Error : public std::system_error {
 public:
  /// An error of floe's own category.
  Error(Errc code, const std::string& what)
      : std::system_error(make_error_code(code)), message_(what) {}
  /// An error of another category (e.g. Asio's or the system's), carried as it is; `what` says
  /// everything (std::system_error would append the category's own text to it).
  Error(std::error_code code, const std::string& what) : std::system_error(code), message_(what) {}

  /// The message given, once: std::system_error's own what() would repeat the code's meaning
  /// after it ("operation timed out: timed out").
  const char* what() const noexcept override { return message_.what(); }

 private:
  std::runtime_error
      message_;  // copied without throwing (its text is shared), as an exception must
};

}  // namespace floe

template <>
struct std::is_error_code_enum<floe::Errc> : std::true_type {};
