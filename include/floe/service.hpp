#pragma once
// A request-response service: built from a Node, it makes the clients and servers.

#include <cstdint>
#include <memory>
#include <string>

#include "floe/attributes.hpp"
#include "floe/client.hpp"
#include "floe/config.hpp"
#include "floe/detail/service_spec.hpp"
#include "floe/introspection.hpp"
#include "floe/limits.hpp"
#include "floe/server.hpp"
#include "floe/shm_compatible.hpp"

namespace floe {

// Friends are named floe::X, declared here: see client.hpp.
template <typename RequestPayload, typename ResponsePayload, typename RequestUserHeader,
          typename ResponseUserHeader>
class RequestResponseBuilder;
class ServiceBuilder;

/// May be shared between threads: any of them may create clients and servers from it at once
/// (the segment lock separates threads as it separates processes, so each port gets a slot of
/// its own), and ask name(), limits(), attributes() and usage().
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class Service {
 public:
  /// A builder for a client of this service; create() takes a client slot.
  ClientBuilder<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>
  client_builder() const {
    return {segment_, limits().max_active_requests_per_client};
  }
  /// A builder for a server of this service; create() takes a server slot.
  ServerBuilder<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>
  server_builder() const {
    return {segment_, limits().max_loaned_responses_per_request};
  }

  /// The service's name, as given to Node::service_builder.
  const std::string& name() const noexcept { return detail::service_name(*segment_); }
  /// The limits the service was created with (which may exceed what this opener asked for).
  RequestResponseLimits limits() const noexcept { return detail::service_limits(*segment_); }
  /// What the service's shared memory holds right now.
  ServiceUsage usage() const noexcept { return detail::service_usage(*segment_); }
  /// The attributes the service was created with (RequestResponseBuilder::attributes()).
  const AttributeSet& attributes() const noexcept { return detail::service_attributes(*segment_); }

 private:
  template <typename, typename, typename, typename>
  friend class floe::RequestResponseBuilder;
  /// Made by RequestResponseBuilder's create(), open() or open_or_create().
  explicit Service(std::shared_ptr<detail::ServiceSegment> segment) noexcept
      : segment_(std::move(segment)) {}

  std::shared_ptr<detail::ServiceSegment> segment_;
};

/// Names the payload and header types and the limits of a request-response service, then creates
/// or opens it. Limits not set here come from the node's Config (file or defaults). When opening
/// a service that exists, the limits set here explicitly are requirements: the service must have
/// at least as many of each (flags: the same), or open() throws incompatible_limits; the types
/// must match exactly (incompatible_types). Each limit's default and range: floe/limits.hpp
/// (`floe limits` prints them); a count of 0 is taken as 1, a value above its range is
/// incompatible_limits, as the config file's is invalid_config.
template <typename RequestPayload, typename ResponsePayload,
          typename RequestUserHeader = NoUserHeader, typename ResponseUserHeader = NoUserHeader>
class RequestResponseBuilder {
  // Each type lives in shared memory (a slice's elements do); a failed clause is reported on
  // its own (ShmCompatible).
  using RequestElement = typename detail::SliceTraits<RequestPayload>::element;
  using ResponseElement = typename detail::SliceTraits<ResponsePayload>::element;
  static_assert(
      detail::ShmCompatibleCheck<RequestElement, detail::checking_the_request_payload>::value);
  static_assert(
      detail::ShmCompatibleCheck<ResponseElement, detail::checking_the_response_payload>::value);
  static_assert(detail::ShmCompatibleCheck<RequestUserHeader,
                                           detail::checking_the_request_user_header>::value);
  static_assert(detail::ShmCompatibleCheck<ResponseUserHeader,
                                           detail::checking_the_response_user_header>::value);

 public:
  using ServiceType =
      Service<RequestPayload, ResponsePayload, RequestUserHeader, ResponseUserHeader>;

  /// Every request carries a `Header` next to its payload (RequestMut::user_header()).
  template <typename Header>
  RequestResponseBuilder<RequestPayload, ResponsePayload, Header, ResponseUserHeader>
  request_user_header() const {
    return with_types<Header, ResponseUserHeader>();
  }
  /// Every response carries a `Header` next to its payload (ResponseMut::user_header()).
  template <typename Header>
  RequestResponseBuilder<RequestPayload, ResponsePayload, RequestUserHeader, Header>
  response_user_header() const {
    return with_types<RequestUserHeader, Header>();
  }

  /// Clients that may exist at once, across all processes.
  RequestResponseBuilder& max_clients(std::uint32_t v) {
    return set<detail::LimitId::max_clients>(v);
  }
  /// Servers that may exist at once: each request reaches every one.
  RequestResponseBuilder& max_servers(std::uint32_t v) {
    return set<detail::LimitId::max_servers>(v);
  }
  /// Nodes (usually processes) that may hold the service open at once; a Node counts once,
  /// however many handles of the service it holds.
  RequestResponseBuilder& max_nodes(std::uint32_t v) { return set<detail::LimitId::max_nodes>(v); }
  /// Requests a client may have sent that have not ended: their PendingResponse, or a Response
  /// of theirs, still exists.
  RequestResponseBuilder& max_active_requests_per_client(std::uint32_t v) {
    return set<detail::LimitId::max_active_requests_per_client>(v);
  }
  /// Requests a client may hold loaned and not yet sent.
  RequestResponseBuilder& max_loaned_requests(std::uint32_t v) {
    return set<detail::LimitId::max_loaned_requests>(v);
  }
  /// Responses a stream buffers between a server and the client that has not read them yet;
  /// what a full buffer does is enable_safe_overflow_for_responses's choice.
  RequestResponseBuilder& max_response_buffer_size(std::uint32_t v) {
    return set<detail::LimitId::max_response_buffer_size>(v);
  }
  /// Responses of one PendingResponse that may be held (received, not yet dropped) at once.
  RequestResponseBuilder& max_borrowed_responses_per_pending_response(std::uint32_t v) {
    return set<detail::LimitId::max_borrowed_responses_per_pending_response>(v);
  }
  /// The most any server of the service may loan per request (a server may ask for fewer).
  RequestResponseBuilder& max_loaned_responses_per_request(std::uint32_t v) {
    return set<detail::LimitId::max_loaned_responses_per_request>(v);
  }
  /// Whether a request whose PendingResponse was dropped still reaches servers (else it is
  /// withdrawn from servers that have not taken it).
  RequestResponseBuilder& enable_fire_and_forget_requests(bool v) {
    return set<detail::LimitId::enable_fire_and_forget_requests>(v);
  }
  /// Whether a full request queue drops its oldest request for a new one. A queue has room for
  /// every active request of its client, so it fills only if a peer wrote into it.
  RequestResponseBuilder& enable_safe_overflow_for_requests(bool v) {
    return set<detail::LimitId::enable_safe_overflow_for_requests>(v);
  }
  /// Whether a full response buffer drops its oldest response for a new one (latest value
  /// wins) or makes the server wait or refuse (lossless; docs/API.md, Streams).
  RequestResponseBuilder& enable_safe_overflow_for_responses(bool v) {
    return set<detail::LimitId::enable_safe_overflow_for_responses>(v);
  }

  /// The attributes a service created by this builder holds (Service::attributes()); opening
  /// ignores them. They are the service's for its life: an opener cannot change them.
  RequestResponseBuilder& attributes(AttributeSpecifier defined) {
    spec_.attributes = std::move(defined);
    return *this;
  }
  /// What the service's attributes must hold for open() to succeed (incompatible_attributes
  /// otherwise); open_or_create() and create() also refuse to create a service whose
  /// attributes() would not meet it.
  RequestResponseBuilder& required_attributes(AttributeVerifier required) {
    spec_.required_attributes = std::move(required);
    return *this;
  }

  /// Request payloads start at a multiple of `alignment` bytes (a power of two up to 4096; less
  /// than alignof(RequestPayload) means alignof), e.g. for SIMD loads. Creating: the service's
  /// alignment; opening: the service's must be at least this, or open() throws
  /// incompatible_types. Not a power of two up to 4096: invalid_config.
  RequestResponseBuilder& request_payload_alignment(std::size_t alignment) {
    spec_.request_payload_alignment = alignment;
    return *this;
  }
  /// Response payloads start at a multiple of `alignment` bytes, as request_payload_alignment.
  RequestResponseBuilder& response_payload_alignment(std::size_t alignment) {
    spec_.response_payload_alignment = alignment;
    return *this;
  }

  /// The most elements a request of this floe::Slice service may hold: what each request chunk
  /// has room for (max × sizeof(T)). Required to create the service (incompatible_limits
  /// without it); opening: the service's must be at least this, or open() throws
  /// incompatible_limits. 0 is taken as 1; above 2^32 - 1 elements or 4 GiB: incompatible_limits.
  RequestResponseBuilder& request_max_slice_len(
      std::uint64_t n) requires detail::SliceTraits<RequestPayload>::is_slice {
    spec_.request_max_slice_len = n;
    return *this;
  }
  /// The most elements a response of this floe::Slice service may hold, as
  /// request_max_slice_len.
  RequestResponseBuilder& response_max_slice_len(
      std::uint64_t n) requires detail::SliceTraits<ResponsePayload>::is_slice {
    spec_.response_max_slice_len = n;
    return *this;
  }

  /// Creates the service. Throws floe::Error: service_already_exists if a live service has the
  /// name (a stale or damaged one is replaced), out_of_memory if /dev/shm cannot hold it,
  /// permission_denied if what is at the name is not this user's to join,
  /// incompatible_attributes if its attributes() fail its required_attributes().
  ServiceType create() const { return build(detail::OpenMode::create); }
  /// Opens the service. Throws floe::Error: service_does_not_exist (also when only a stale or
  /// damaged segment was there: it is removed), incompatible_types (also for a payload aligned
  /// to less than asked), incompatible_limits, incompatible_attributes, exceeds_max_nodes,
  /// permission_denied. A node that holds the service open already gets another handle of the
  /// same mapping, checked the same way.
  ServiceType open() const { return build(detail::OpenMode::open); }
  /// Opens the service, or creates it if there is none; throws what open() and create() do.
  ServiceType open_or_create() const { return build(detail::OpenMode::open_or_create); }

 private:
  template <typename, typename, typename, typename>
  friend class floe::RequestResponseBuilder;
  friend class floe::ServiceBuilder;

  /// Made by Node::service_builder(name).request_response<Request, Response>().
  RequestResponseBuilder(std::shared_ptr<const detail::NodeState> node, std::string name)
      : node_(std::move(node)) {
    spec_.name = std::move(name);
    spec_.request = TypeInfo::of<RequestPayload>();
    spec_.response = TypeInfo::of<ResponsePayload>();
    spec_.request_user_header = TypeInfo::of<RequestUserHeader>();
    spec_.response_user_header = TypeInfo::of<ResponseUserHeader>();
    spec_.limits = node_->config.request_response;
  }

  /// This builder's name and limits, with other user header types.
  template <typename NextRequestUserHeader, typename NextResponseUserHeader>
  RequestResponseBuilder<RequestPayload, ResponsePayload, NextRequestUserHeader,
                         NextResponseUserHeader>
  with_types() const {
    RequestResponseBuilder<RequestPayload, ResponsePayload, NextRequestUserHeader,
                           NextResponseUserHeader>
        next(node_, spec_.name);
    next.spec_.limits = spec_.limits;
    next.spec_.explicitly_set = spec_.explicitly_set;
    next.spec_.attributes = spec_.attributes;
    next.spec_.required_attributes = spec_.required_attributes;
    next.spec_.request_payload_alignment = spec_.request_payload_alignment;
    next.spec_.response_payload_alignment = spec_.response_payload_alignment;
    next.spec_.request_max_slice_len = spec_.request_max_slice_len;
    next.spec_.response_max_slice_len = spec_.response_max_slice_len;
    return next;
  }
  template <detail::LimitId limit, typename Value>
  RequestResponseBuilder& set(Value value) {
    detail::set_limit_value(spec_.limits, limit, static_cast<std::uint32_t>(value));
    spec_.explicitly_set |= detail::limit_bit(limit);
    return *this;
  }
  ServiceType build(detail::OpenMode mode) const {
    return ServiceType(detail::open_service(*node_, spec_, mode));
  }

  std::shared_ptr<const detail::NodeState> node_;
  detail::ServiceSpec spec_;
};

}  // namespace floe
