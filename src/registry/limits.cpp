#include "registry/limits.hpp"

#include "floe/error.hpp"

namespace floe::detail {

std::string out_of_range_message(const LimitInfo& limit, std::int64_t value) {
  std::string message = std::string(limit.name) + " = " + std::to_string(value) +
                        " is out of range: it must be from " + std::to_string(limit.min) + " to " +
                        std::to_string(limit.max);
  if (!limit.bound.empty()) message += " (" + std::string(limit.bound) + ")";
  return message;
}

std::string format_limit_value(const LimitInfo& limit, std::uint32_t value) {
  if (limit.is_flag) return value != 0 ? "true" : "false";
  return std::to_string(value);
}

std::string how_to_raise(LimitId id) {
  const std::string name(limit_info(id).name);
  return "To allow more, create the service with ." + name +
         "(n) on its builder or defaults.request_response." + name +
         " = n in the config file (FLOE_CONFIG); an existing service keeps its limits until "
         "every process has closed it";
}

namespace {

/// "floe: <who> has <name> = <value> <held> already<reason>; <free_one>. "
std::string reached(const std::string& who, std::string_view name, std::uint32_t value,
                    std::string_view held, const std::string& reason, std::string_view free_one) {
  return "floe: " + who + " has " + std::string(name) + " = " + std::to_string(value) + " " +
         std::string(held) + " already" + reason + "; " + std::string(free_one) + ". ";
}

}  // namespace

std::string limit_reached_message(const std::string& who, LimitId id, std::uint32_t value,
                                  std::string_view held, std::string_view free_one) {
  return reached(who, limit_info(id).name, value, held, "", free_one) + how_to_raise(id);
}

std::string port_limit_reached_message(const std::string& who, std::string_view setter,
                                       std::uint32_t value, LimitId id, std::uint32_t service_value,
                                       std::string_view held, std::string_view free_one) {
  const std::string service_limit =
      "the service's " + std::string(limit_info(id).name) + " = " + std::to_string(service_value);
  if (value >= service_value) {
    return reached(who, setter, value, held, ", all " + service_limit + " allows", free_one) +
           how_to_raise(id);
  }
  return reached(who, setter, value, held, "", free_one) + "To allow more, give its builder ." +
         std::string(setter) + "(n), up to " + service_limit;
}

void check_ranges(const RequestResponseLimits& limits, std::uint32_t which,
                  const std::string& service) {
  for (const LimitInfo& limit : kLimits) {
    if ((which & limit_bit(limit.id)) == 0) continue;
    const std::uint32_t value = limit_value(limits, limit.id);
    if (!limit.contains(value)) {
      throw Error(Errc::incompatible_limits,
                  "floe: service '" + service + "': " + out_of_range_message(limit, value));
    }
  }
}

void check_satisfies(const StoredLimits& service_limits, const RequestResponseLimits& wanted,
                     std::uint32_t asked, const std::string& service) {
  for (const LimitInfo& limit : kLimits) {
    if ((asked & limit_bit(limit.id)) == 0) continue;
    const std::uint32_t have = limit_value(service_limits, limit.id);
    const std::uint32_t want = limit_value(wanted, limit.id);
    if (limit.is_flag ? have == want : want <= have) continue;
    throw Error(Errc::incompatible_limits,
                "floe: service '" + service + "' was created with " + std::string(limit.name) +
                    " = " + format_limit_value(limit, have) +
                    ", which does not satisfy the requested " + format_limit_value(limit, want) +
                    "; ask for " + (limit.is_flag ? "the same" : "at most that") +
                    ", or create the service anew once every process has closed it. Whichever "
                    "process creates a service sets its limits for all: give every process the "
                    "same limits (builder calls or one FLOE_CONFIG)");
  }
}

StoredLimits to_stored(const RequestResponseLimits& limits) noexcept {
  StoredLimits stored{};
  for (const LimitInfo& limit : kLimits) {
    set_limit_value(stored, limit.id, limit_value(limits, limit.id));
  }
  return stored;
}

RequestResponseLimits from_stored(const StoredLimits& stored) noexcept {
  RequestResponseLimits limits;
  for (const LimitInfo& limit : kLimits) {
    set_limit_value(limits, limit.id, limit_value(stored, limit.id));
  }
  return limits;
}

}  // namespace floe::detail
