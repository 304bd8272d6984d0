#pragma once
// The limits of a request-response service, each declared once, in the list below: its name
// (also its key in the TOML file), type, default, range and meaning. Everything else is derived
// from the list: the RequestResponseLimits struct, the builder's record of which limits it was
// given, the config file's keys and their parsing, the one range check that both the file and
// service creation use, the comparison made when opening a service, the limits' record in shared
// memory (StoredLimits), and what the `floe` tool prints.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <type_traits>

// X(name, type, default, min, max, bound, help)
//   type   std::uint32_t (a count) or bool (a flag: min and max are 0 and 1)
//   min    1 for every count: 0 is taken as 1 (sane_value)
//   bound  why the maximum is what it is, for the message that refuses a larger value
// The order is that of the record in shared memory (StoredLimits): counts, then flags. A new
// limit goes at the end of its kind, and changes kLayoutVersion.
// clang-format off
#define FLOE_REQUEST_RESPONSE_LIMITS(X) \
  X(max_clients, std::uint32_t, 8, 1, 4096, "the most client slots floe lays out in one service", "Clients that may exist at once, across all processes.") \
  X(max_servers, std::uint32_t, 2, 1, 64, "the servers a request reaches are one 64-bit mask", "Servers that may exist at once; each request reaches every one.") \
  X(max_nodes, std::uint32_t, 20, 1, 4096, "the most node records and liveness marks floe looks at in one service", "Nodes (usually processes) that may hold the service open at once.") \
  X(max_active_requests_per_client, std::uint32_t, 4, 1, 4096, "request chunks have 16-bit indices, shared with max_loaned_requests", "Requests a client may have sent that have not ended: their PendingResponse, or a Response of theirs, still exists.") \
  X(max_loaned_requests, std::uint32_t, 2, 1, 4096, "request chunks have 16-bit indices, shared with max_active_requests_per_client", "Requests a client may hold loaned and not yet sent.") \
  X(max_response_buffer_size, std::uint32_t, 8, 1, 16384, "response chunks have 16-bit indices, shared by the three response limits", "Responses a stream buffers between a server and the client that has not read them yet.") \
  X(max_borrowed_responses_per_pending_response, std::uint32_t, 2, 1, 16384, "response chunks have 16-bit indices, shared by the three response limits", "Responses of one PendingResponse that may be held (received, not yet dropped) at once.") \
  X(max_loaned_responses_per_request, std::uint32_t, 2, 1, 16384, "response chunks have 16-bit indices, shared by the three response limits", "The most any server of the service may loan per request (a server may ask for fewer).") \
  X(enable_fire_and_forget_requests, bool, false, 0, 1, "", "Whether a request whose PendingResponse was dropped still reaches servers that have not taken it (else it is withdrawn from them).") \
  X(enable_safe_overflow_for_requests, bool, true, 0, 1, "", "Whether a full request queue drops its oldest request for a new one (a queue cannot fill unless a peer wrote into it).") \
  X(enable_safe_overflow_for_responses, bool, true, 0, 1, "", "Whether a full response buffer drops its oldest response for a new one (latest value wins) rather than make the server wait or refuse (lossless).")
// clang-format on

namespace floe {

/// The limits of a request-response service. Every buffer is sized from them when the service is
/// created, so memory use is fixed from then on. Each field's default, range and meaning are in
/// FLOE_REQUEST_RESPONSE_LIMITS (floe/limits.hpp).
struct RequestResponseLimits {
#define FLOE_LIMIT_FIELD(name, type, default_value, ...) type name = default_value;
  FLOE_REQUEST_RESPONSE_LIMITS(FLOE_LIMIT_FIELD)
#undef FLOE_LIMIT_FIELD

  /// Field by field.
  friend bool operator==(const RequestResponseLimits&, const RequestResponseLimits&) = default;
};

namespace detail {

/// One name per limit, in the list's order: also the limit's bit in ServiceSpec::explicitly_set.
enum class LimitId : std::uint8_t {
#define FLOE_LIMIT_ID(name, ...) name,
  FLOE_REQUEST_RESPONSE_LIMITS(FLOE_LIMIT_ID)
#undef FLOE_LIMIT_ID
};

/// One limit as the list declares it.
struct LimitInfo {
  LimitId id;                   ///< its place in the list
  std::string_view name;        ///< the field, builder setter and TOML key
  bool is_flag;                 ///< a bool (0 or 1) rather than a count
  std::uint32_t default_value;  ///< what a service gets when nobody sets it
  std::uint32_t min;            ///< the smallest value accepted
  std::uint32_t max;            ///< the largest value accepted
  std::string_view bound;       ///< why max is what it is, quoted by the range error
  std::string_view help;        ///< one line for `floe inspect` and the docs

  /// Whether `value` is within [min, max].
  constexpr bool contains(std::int64_t value) const noexcept {
    return value >= min && value <= max;
  }
};

/// As iceoryx2 does: a count of 0 where the least is 1 means 1 (one client, one node, ...)
/// rather than an error, from a builder, a Config or the config file alike. Anything else is
/// left for the range check.
constexpr std::int64_t sane_value(const LimitInfo& limit, std::int64_t value) noexcept {
  return !limit.is_flag && limit.min == 1 && value == 0 ? 1 : value;
}

/// Every limit, in the list's order (kLimits[i].id == LimitId(i)).
inline constexpr LimitInfo kLimits[] = {
#define FLOE_LIMIT_INFO(name, type, default_value, min, max, bound, help) \
  LimitInfo{LimitId::name,                                                \
            #name,                                                        \
            std::is_same_v<type, bool>,                                   \
            static_cast<std::uint32_t>(default_value),                    \
            min,                                                          \
            max,                                                          \
            bound,                                                        \
            help},
    FLOE_REQUEST_RESPONSE_LIMITS(FLOE_LIMIT_INFO)
#undef FLOE_LIMIT_INFO
};
static_assert(std::size(kLimits) <= 32, "ServiceSpec::explicitly_set has one bit per limit");

constexpr const LimitInfo& limit_info(LimitId id) noexcept {
  return kLimits[static_cast<std::size_t>(id)];
}

/// The limit's bit in ServiceSpec::explicitly_set.
constexpr std::uint32_t limit_bit(LimitId id) noexcept {
  return 1u << static_cast<unsigned>(id);
}

/// Every limit's bit.
inline constexpr std::uint32_t kAllLimits = (1u << std::size(kLimits)) - 1;

/// A limit's value in any record with the list's field names (RequestResponseLimits,
/// StoredLimits); a flag reads as 0 or 1.
template <typename Limits>
constexpr std::uint32_t limit_value(const Limits& limits, LimitId id) noexcept {
  switch (id) {
#define FLOE_LIMIT_GET(name, type, ...) \
  case LimitId::name:                   \
    return std::is_same_v<type, bool> ? (limits.name != 0 ? 1u : 0u) : limits.name;
    FLOE_REQUEST_RESPONSE_LIMITS(FLOE_LIMIT_GET)
#undef FLOE_LIMIT_GET
  }
  return 0;
}

/// Sets a limit in any record with the list's field names.
template <typename Limits>
constexpr void set_limit_value(Limits& limits, LimitId id, std::uint32_t value) noexcept {
  switch (id) {
#define FLOE_LIMIT_SET(name, ...)                                                 \
  case LimitId::name:                                                             \
    limits.name = static_cast<std::remove_cvref_t<decltype(limits.name)>>(value); \
    return;
    FLOE_REQUEST_RESPONSE_LIMITS(FLOE_LIMIT_SET)
#undef FLOE_LIMIT_SET
  }
}

}  // namespace detail
}  // namespace floe
