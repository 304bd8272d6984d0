// floe: look at and clean up the services of a domain.
//
//   floe list [--domain D | --all]     every service: types, limits, live ports, state
//   floe inspect SERVICE [--domain D]  one service: types, limits, attributes, nodes, ports,
//                                      memory in use
//   floe clean [--domain D | --all] [--dry-run]
//                                      removes what dead processes left: services (damaged or
//                                      not) none of whose processes runs; exits 1 if a removal
//                                      failed
//   floe limits                        every limit of a service: default, range, meaning
//
// The domain and group_access default to FLOE_DOMAIN / the config file, as for the library.
// Objects the library would refuse to join (another user's, say) are listed with their owner,
// never read, and never removed.

#include <CLI/CLI.hpp>
#include <floe/floe.hpp>

#include <cstdio>
#include <string>

#include "registry/inspection.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"

namespace {

using floe::detail::SegmentReport;

std::string type_of(const floe::detail::StoredType& type) {
  return std::string(type.name) + " (" + std::to_string(type.size) + " B)";
}

/// Attributes are any bytes another process chose: control characters are shown as \xNN, so
/// they cannot steer the terminal.
std::string printable(const std::string& text) {
  std::string shown;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f && byte != '\\') {
      shown += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      shown += escaped;
    }
  }
  return shown;
}

std::string state_of(const SegmentReport& report) {
  if (report.refused) return "not joined: " + report.problem;
  if (!report.valid) {
    if (!report.judged_by_marks) return "unreadable: " + report.problem;
    return "damaged: " + report.problem +
           (report.held ? " (held by a live process)" : " (nobody holds it: `clean` removes it)");
  }
  return report.stale() ? "stale (no live process)" : "live";
}

/// "max_clients 8, max_servers 2, ..., enable_safe_overflow_for_responses true", every limit of
/// the list, wrapped under the "limits    " heading.
std::string limits_of(const floe::detail::StoredLimits& limits) {
  constexpr std::size_t kIndent = 10, kWidth = 100;
  std::string text;
  std::size_t column = kIndent;
  for (const floe::detail::LimitInfo& limit : floe::detail::kLimits) {
    const std::uint32_t value = floe::detail::limit_value(limits, limit.id);
    std::string item =
        std::string(limit.name) + " " + floe::detail::format_limit_value(limit, value);
    if (&limit != &floe::detail::kLimits[0]) {
      const bool wrap = column + 2 + item.size() > kWidth;
      text += wrap ? ",\n" + std::string(kIndent, ' ') : ", ";
      column = wrap ? kIndent : column + 2;
    }
    column += item.size();
    text += item;
  }
  return text;
}

int list(const std::string& domain, bool all, bool group_access) {
  const auto objects = floe::detail::list_objects(all ? std::string() : domain);
  if (objects.empty()) {
    std::printf("no services in %s\n", all ? "any domain" : ("domain '" + domain + "'").c_str());
    return 0;
  }
  std::printf("%-10s %-32s %-44s %7s %7s %5s  %s\n", "DOMAIN", "SERVICE", "REQUEST -> RESPONSE",
              "CLIENTS", "SERVERS", "NODES", "STATE");
  for (const std::string& object : objects) {
    const SegmentReport r = floe::detail::inspect_object(object, group_access);
    const std::string types =
        r.valid ? std::string(r.request.name) + " -> " + std::string(r.response.name) : "-";
    std::printf("%-10s %-32s %-44s %3u/%-3u %3u/%-3u %2u/%-2u  %s\n", r.domain.c_str(),
                r.valid ? r.service.c_str() : object.c_str(), types.c_str(), r.usage.clients,
                r.limits.max_clients, r.usage.servers, r.limits.max_servers, r.usage.nodes,
                r.limits.max_nodes, state_of(r).c_str());
  }
  return 0;
}

int inspect(const std::string& domain, const std::string& service, bool group_access) {
  if (!floe::detail::is_valid_service_name(service)) {
    std::fprintf(stderr, "floe: '%s' is not a valid service name\n", service.c_str());
    return 2;
  }
  const std::string object = floe::detail::service_object_name(domain, service);
  const SegmentReport r = floe::detail::inspect_object(object, group_access);
  if (!r.exists) {
    std::fprintf(stderr, "floe: no service '%s' in domain '%s'\n", service.c_str(), domain.c_str());
    return 1;
  }
  if (!r.readable) {
    std::fprintf(stderr, "floe: service '%s' in domain '%s' (/dev/shm%s): %s\n", service.c_str(),
                 domain.c_str(), object.c_str(), r.problem.c_str());
    return 1;
  }
  std::printf("service   %s\nobject    /dev/shm%s (%llu bytes)\nstate     %s\n", r.service.c_str(),
              object.c_str(), static_cast<unsigned long long>(r.usage.segment_size),
              state_of(r).c_str());
  if (!r.valid) return 1;
  std::printf("request   %s, user header %s, payload alignment %llu\n", type_of(r.request).c_str(),
              type_of(r.request_user_header).c_str(),
              static_cast<unsigned long long>(r.request_payload_alignment));
  std::printf("response  %s, user header %s, payload alignment %llu\n", type_of(r.response).c_str(),
              type_of(r.response_user_header).c_str(),
              static_cast<unsigned long long>(r.response_payload_alignment));
  std::printf("limits    %s\n", limits_of(r.limits).c_str());
  for (const floe::Attribute& attribute : r.attributes) {
    std::printf("attribute %s = %s\n", printable(attribute.key).c_str(),
                printable(attribute.value).c_str());
  }
  for (const auto& node : r.nodes) {
    std::printf("node %-4u pid %-8llu %s\n", node.index, static_cast<unsigned long long>(node.pid),
                node.alive ? "alive" : "dead (reclaimed when the service is next used)");
  }
  for (const auto& port : r.ports) {
    std::printf("%-6s %-3u generation %-6u pid %-8llu %s\n", port.server ? "server" : "client",
                port.slot, port.generation, static_cast<unsigned long long>(port.pid),
                port.alive ? "alive" : "dead");
  }
  std::printf("in use    request chunks %llu/%llu, response chunks %llu/%llu\n",
              static_cast<unsigned long long>(r.usage.request_chunks_in_use),
              static_cast<unsigned long long>(r.usage.request_chunks),
              static_cast<unsigned long long>(r.usage.response_chunks_in_use),
              static_cast<unsigned long long>(r.usage.response_chunks));
  return 0;
}

int clean(const std::string& domain, bool all, bool dry_run, bool group_access) {
  int removed = 0;
  int kept = 0;
  int failed = 0;
  for (const std::string& object : floe::detail::list_objects(all ? std::string() : domain)) {
    const SegmentReport r = floe::detail::inspect_object(object, group_access);
    const bool leftover = r.stale();
    if (!leftover) {
      if (!r.valid) std::printf("kept    /dev/shm%s: %s\n", object.c_str(), r.problem.c_str());
      ++kept;
      continue;
    }
    const std::string what =
        r.valid ? "stale service '" + r.service + "'" : "damaged, unused: " + r.problem;
    if (dry_run) {
      std::printf("would remove /dev/shm%s (%s)\n", object.c_str(), what.c_str());
      ++removed;
      continue;
    }
    const auto removal = floe::detail::remove_if_unused(object, group_access);
    switch (removal.outcome) {
      case floe::detail::Removal::removed:
        std::printf("removed /dev/shm%s (%s)\n", object.c_str(), what.c_str());
        ++removed;
        break;
      case floe::detail::Removal::kept:  // a process took it up meanwhile, say
        std::printf("kept    /dev/shm%s (%s): %s\n", object.c_str(), what.c_str(),
                    removal.reason.c_str());
        ++kept;
        break;
      case floe::detail::Removal::failed:
        std::printf("FAILED  /dev/shm%s (%s): %s; %s\n", object.c_str(), what.c_str(),
                    removal.reason.c_str(), r.owner.c_str());
        ++failed;
        break;
    }
  }
  std::printf("%d %s, %d in use or not floe's to judge", removed, dry_run ? "to remove" : "removed",
              kept);
  if (failed > 0) std::printf(", %d could not be removed", failed);
  std::printf("\n");
  return failed > 0 ? 1 : 0;
}

/// The list of floe/limits.hpp as a table: the one place that says every limit's range.
int limits() {
  std::printf("%-44s %-8s %-12s %s\n", "LIMIT", "DEFAULT", "RANGE", "MEANING");
  for (const floe::detail::LimitInfo& limit : floe::detail::kLimits) {
    const std::string default_value = floe::detail::format_limit_value(limit, limit.default_value);
    const std::string range = limit.is_flag
                                  ? "true/false"
                                  : std::to_string(limit.min) + " to " + std::to_string(limit.max);
    std::printf("%-44s %-8s %-12s %s\n", std::string(limit.name).c_str(), default_value.c_str(),
                range.c_str(), std::string(limit.help).c_str());
  }
  std::printf("\nA count of 0 is taken as 1; one above its range is refused, saying why.\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"floe: list, inspect and clean up floe services"};
  app.require_subcommand(1);
  std::string domain;
  bool all = false;
  bool dry_run = false;
  std::string service;

  auto* list_command = app.add_subcommand("list", "every service of the domain");
  list_command->add_option("--domain", domain, "the domain (default: FLOE_DOMAIN / config)");
  list_command->add_flag("--all", all, "every domain");
  auto* inspect_command = app.add_subcommand("inspect", "one service in detail");
  inspect_command->add_option("service", service, "the service's name")->required();
  inspect_command->add_option("--domain", domain, "the domain (default: FLOE_DOMAIN / config)");
  auto* clean_command = app.add_subcommand("clean", "remove what dead processes left behind");
  clean_command->add_option("--domain", domain, "the domain (default: FLOE_DOMAIN / config)");
  clean_command->add_flag("--all", all, "every domain");
  clean_command->add_flag("--dry-run", dry_run, "only say what would be removed");
  auto* limits_command =
      app.add_subcommand("limits", "every limit of a service: default, range, meaning");
  CLI11_PARSE(app, argc, argv);
  if (*limits_command) return limits();

  const floe::Config config = floe::Config::from_environment();
  if (domain.empty()) domain = config.domain;
  if (!floe::detail::is_valid_domain(domain)) {
    std::fprintf(stderr, "floe: invalid domain '%s'\n", domain.c_str());
    return 2;
  }
  if (*list_command) return list(domain, all, config.group_access);
  if (*inspect_command) return inspect(domain, service, config.group_access);
  return clean(domain, all, dry_run, config.group_access);
} catch (const floe::Error& e) {
  std::fprintf(stderr, "floe: %s\n", e.what());
  return 1;
}
