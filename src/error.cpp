#include "floe/error.hpp"

#include <stdexcept>
#include <string>

#include "floe/detail/fixed_capacity.hpp"

namespace floe {
namespace {

class FloeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "floe"; }

  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::invalid_name:
        return "invalid name";
      case Errc::service_does_not_exist:
        return "service does not exist";
      case Errc::service_already_exists:
        return "service already exists";
      case Errc::incompatible_types:
        return "incompatible types";
      case Errc::incompatible_limits:
        return "incompatible limits";
      case Errc::exceeds_max_clients:
        return "exceeds max clients";
      case Errc::exceeds_max_servers:
        return "exceeds max servers";
      case Errc::exceeds_max_nodes:
        return "exceeds max nodes";
      case Errc::exceeds_max_loans:
        return "exceeds max loans";
      case Errc::exceeds_max_active_requests:
        return "exceeds max active requests";
      case Errc::timed_out:
        return "timed out (the wait's deadline passed)";
      case Errc::cancelled:
        return "cancelled (a stop token, Runtime::stop() or the port going away)";
      case Errc::corrupted:
        return "corrupted shared memory";
      case Errc::invalid_config:
        return "invalid configuration";
      case Errc::no_runtime:
        return "no floe::Runtime runs on this thread";
      case Errc::io_setup_failed:
        return "the event loop could not be set up";
      case Errc::permission_denied:
        return "permission denied";
      case Errc::out_of_memory:
        return "not enough shared memory";
      case Errc::incompatible_attributes:
        return "incompatible attributes";
      case Errc::invalid_attributes:
        return "invalid attributes";
      case Errc::no_server:
        return "no server of the service came before the deadline (start one, or wait longer)";
      case Errc::no_response:
        return "the stream ended without a response (the server dropped the request or went away)";
      case Errc::exceeds_capacity:
        return "exceeds the capacity of a fixed-size container (floe::FixedString, FixedVector)";
      case Errc::exceeds_max_slice_len:
        return "exceeds the max slice length of the port";
    }
    return "unknown floe error";
  }
};

}  // namespace

const std::error_category& floe_category() noexcept {
  static const FloeCategory category;
  return category;
}

namespace detail {

void throw_exceeds_capacity(std::string_view container, std::size_t capacity, std::size_t size,
                            std::size_t added) {
  std::string message(container);
  message += ": ";
  if (size == 0) {
    message += "cannot hold " + std::to_string(added);
  } else {
    message += "holds " + std::to_string(size) + ", cannot take " + std::to_string(added) + " more";
  }
  message += " (capacity " + std::to_string(capacity) +
             "); nothing was changed. Use a larger capacity, or truncate explicitly "
             "(truncated(), append_truncated(), try_push_back(), try_append())";
  throw Error(Errc::exceeds_capacity, message);
}

void throw_index_out_of_range(std::string_view container, std::size_t index, std::size_t size) {
  throw std::out_of_range(std::string(container) + "::at(" + std::to_string(index) +
                          "): it holds " + std::to_string(size));
}

}  // namespace detail

}  // namespace floe
