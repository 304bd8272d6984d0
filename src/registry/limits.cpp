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
                    " = " + std::to_string(have) + ", which does not satisfy the requested " +
                    std::to_string(want));
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
