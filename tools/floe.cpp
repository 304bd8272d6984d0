// floe: look at and clean up the services of a domain.
//
//   floe list [--domain D | --all] [--json]
//                                      every service: types, limits, live ports, nodes, state
//   floe inspect SERVICE [--domain D] [--json]
//                                      one service: types, limits, attributes, nodes, ports,
//                                      queue fill levels, memory in use
//   floe nodes [--domain D | --all] [--json]
//                                      every node (live and dead) across the services: name,
//                                      pid, and its clients and servers per service
//   floe clean [--domain D | --all] [--dry-run]
//                                      removes what dead processes left: services (damaged or
//                                      not) none of whose processes runs; exits 1 if a removal
//                                      failed
//   floe limits                        every limit of a service: default, range, meaning
//
// Without a subcommand it prints its help and exits 0; a bad command line exits 2.
// The domain and group_access default to FLOE_DOMAIN / the config file, as for the library.
// Objects the library would refuse to join (another user's, say) are listed with their owner,
// never read, and never removed. Everything read from shared memory (names, attributes) was
// written by some process: printed escaped, and in JSON as JSON strings.

#include <CLI/CLI.hpp>
#include <floe/floe.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "registry/inspection.hpp"
#include "registry/limits.hpp"
#include "registry/names.hpp"
#include "registry/segment_header.hpp"
#include "registry/service_segment.hpp"

namespace {

using floe::detail::SegmentReport;
using Json = nlohmann::ordered_json;

/// Bytes another process chose, made safe to print: valid UTF-8 text is kept, every other byte
/// (C0 and C1 control characters, DEL, a backslash, bytes that are not UTF-8) is shown as
/// \xNN, so it cannot steer the terminal.
std::string printable(const std::string& text) {
  std::string shown;
  auto escape = [&](unsigned char byte) {
    char escaped[8];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
    shown += escaped;
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      shown += text[i++];
      continue;
    }
    // A multi-byte UTF-8 sequence: its length from the lead byte, its code point checked for
    // overlong forms, surrogates and C1 controls.
    const std::size_t length = byte >= 0xc2 && byte <= 0xdf   ? 2
                               : byte >= 0xe0 && byte <= 0xef ? 3
                               : byte >= 0xf0 && byte <= 0xf4 ? 4
                                                              : 0;
    std::uint32_t code_point = length == 2 ? byte & 0x1f : length == 3 ? byte & 0x0f : byte & 0x07;
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      code_point = code_point << 6 | (next & 0x3f);
    }
    constexpr std::uint32_t kSmallest[] = {0, 0, 0xa0, 0x800, 0x10000};
    valid = valid && code_point >= kSmallest[length] && code_point <= 0x10ffff &&
            (code_point < 0xd800 || code_point > 0xdfff);
    if (valid) {
      shown.append(text, i, length);
      i += length;
    } else {
      escape(byte);
      ++i;
    }
  }
  return shown;
}

/// Columns a printable() string takes on a terminal: one per character, not per byte.
std::size_t columns_of(const std::string& shown) {
  return static_cast<std::size_t>(std::count_if(shown.begin(), shown.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

/// A table whose columns are as wide as their widest cell up to a cap. A cell wider than its
/// column ends the line, and the row goes on below it in the next column's place, so a
/// 200-character name neither truncates nor shifts the columns of other rows. Cells are
/// printable() already.
class Table {
 public:
  Table(std::vector<std::string> headings, std::size_t cap)
      : rows_{std::move(headings)}, cap_(cap) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print() const {
    const std::size_t count = rows_.front().size();
    std::vector<std::size_t> start(count, 0);
    for (std::size_t column = 1; column < count; ++column) {
      std::size_t width = 0;
      for (const auto& row : rows_) {
        const std::size_t cell = columns_of(row[column - 1]);
        if (cell <= cap_) width = std::max(width, cell);
      }
      start[column] = start[column - 1] + width + 2;
    }
    for (const auto& row : rows_) {
      std::string line;
      std::size_t at = 0;
      for (std::size_t column = 0; column < count; ++column) {
        if (at > start[column]) {
          std::printf("%s\n", line.c_str());
          line.clear();
          at = 0;
        }
        line.append(start[column] - at, ' ');
        line += row[column];
        at = start[column] + columns_of(row[column]);
      }
      while (!line.empty() && line.back() == ' ')
        line.pop_back();
      std::printf("%s\n", line.c_str());
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::size_t cap_;
};

constexpr std::size_t kColumnCap = 40;

/// JSON documents go to stdout in one piece; bytes that are not UTF-8 (a peer's garbage in a
/// name) become U+FFFD rather than an exception.
void print_json(const Json& document) {
  std::printf("%s\n", document.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
}

/// "Sample (16 B)", "floe::Slice<Sample> (16 B elements, at most 64)", "none".
std::string type_of(const floe::detail::StoredType& type, std::uint64_t max_slice_len = 0) {
  if (type.name[0] == '\0' && type.size == 0) return "none";
  const std::string name = printable(floe::detail::recorded_type_name(type, max_slice_len != 0));
  if (max_slice_len == 0) return name + " (" + std::to_string(type.size) + " B)";
  return name + " (" + std::to_string(type.size) + " B elements, at most " +
         std::to_string(max_slice_len) + ")";
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

const char* state_name(floe::ServiceState state) {
  switch (state) {
    case floe::ServiceState::live:
      return "live";
    case floe::ServiceState::stale:
      return "stale";
    case floe::ServiceState::damaged:
      return "damaged";
    case floe::ServiceState::inaccessible:
      break;
  }
  return "inaccessible";
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

Json limits_json(const floe::detail::StoredLimits& limits) {
  Json json = Json::object();
  for (const floe::detail::LimitInfo& limit : floe::detail::kLimits) {
    const std::uint32_t value = floe::detail::limit_value(limits, limit.id);
    if (limit.is_flag) {
      json[std::string(limit.name)] = value != 0;
    } else {
      json[std::string(limit.name)] = value;
    }
  }
  return json;
}

Json node_json(const floe::NodeInfo& node) {
  return Json{{"name", node.name},
              {"pid", node.pid},
              {"alive", node.alive},
              {"clients", node.clients},
              {"servers", node.servers}};
}

/// A service as `list --json` shows it: the public ServiceInfo, with the domain.
Json service_json(const SegmentReport& report) {
  const floe::ServiceInfo info = floe::detail::service_info_of(report);
  Json json{{"domain", report.domain},         {"name", info.name},       {"object", info.object},
            {"state", state_name(info.state)}, {"problem", info.problem}, {"owner", info.owner}};
  if (!report.valid) return json;
  json["request_type"] = info.request_type;
  json["response_type"] = info.response_type;
  json["request_max_slice_len"] = info.request_max_slice_len;
  json["response_max_slice_len"] = info.response_max_slice_len;
  json["request_user_header_type"] = info.request_user_header_type;
  json["response_user_header_type"] = info.response_user_header_type;
  json["limits"] = limits_json(report.limits);
  json["live_nodes"] = info.live_nodes;
  json["dead_nodes"] = info.dead_nodes;
  Json nodes = Json::array();
  for (const floe::NodeInfo& node : info.nodes)
    nodes.push_back(node_json(node));
  json["nodes"] = nodes;
  json["usage"] = Json{{"clients", info.usage.clients},
                       {"servers", info.usage.servers},
                       {"nodes", info.usage.nodes},
                       {"request_chunks", info.usage.request_chunks},
                       {"request_chunks_in_use", info.usage.request_chunks_in_use},
                       {"response_chunks", info.usage.response_chunks},
                       {"response_chunks_in_use", info.usage.response_chunks_in_use},
                       {"segment_size", info.usage.segment_size},
                       {"data_segments", info.usage.data_segments},
                       {"data_segment_bytes", info.usage.data_segment_bytes}};
  return json;
}

/// "reader (pid 412), writer (pid 413, dead)": a service's nodes in one line.
std::string nodes_of(const SegmentReport& report) {
  std::string text;
  for (const auto& node : report.nodes) {
    if (!text.empty()) text += ", ";
    text +=
        printable(node.name) + " (pid " + std::to_string(node.pid) + (node.alive ? ")" : ", dead)");
  }
  return text;
}

std::vector<SegmentReport> reports_of(const std::string& domain, bool all, bool group_access) {
  std::vector<SegmentReport> reports;
  for (const std::string& object : floe::detail::list_objects(all ? std::string() : domain))
    reports.push_back(floe::detail::inspect_object(object, group_access));
  return reports;
}

int list(const std::string& domain, bool all, bool group_access, bool json) {
  const std::vector<SegmentReport> reports = reports_of(domain, all, group_access);
  if (json) {
    Json services = Json::array();
    for (const SegmentReport& r : reports) {
      if (r.exists) services.push_back(service_json(r));
    }
    print_json(Json{{"domain", all ? Json() : Json(domain)}, {"services", services}});
    return 0;
  }
  if (reports.empty()) {
    std::printf("no services in %s\n", all ? "any domain" : ("domain '" + domain + "'").c_str());
    return 0;
  }
  Table table({"DOMAIN", "SERVICE", "REQUEST -> RESPONSE", "CLIENTS", "SERVERS", "NODES", "STATE"},
              kColumnCap);
  auto count = [](std::uint32_t used, std::uint32_t limit) {
    return std::to_string(used) + "/" + std::to_string(limit);
  };
  for (const SegmentReport& r : reports) {
    const std::string types =
        r.valid
            ? printable(floe::detail::recorded_type_name(r.request, r.request_max_slice_len != 0)) +
                  " -> " +
                  printable(
                      floe::detail::recorded_type_name(r.response, r.response_max_slice_len != 0))
            : "-";
    table.add({r.domain, printable(r.valid ? r.service : r.object), types,
               count(r.usage.clients, r.limits.max_clients),
               count(r.usage.servers, r.limits.max_servers),
               count(r.usage.nodes, r.limits.max_nodes), state_of(r)});
  }
  table.print();
  for (const SegmentReport& r : reports) {
    if (!r.nodes.empty())
      std::printf("nodes of %s: %s\n", printable(r.service).c_str(), nodes_of(r).c_str());
  }
  return 0;
}

std::string fill_of(const floe::detail::QueueFill& fill) {
  return std::to_string(fill.used) + "/" + std::to_string(fill.capacity);
}

Json fill_json(const floe::detail::QueueFill& fill) {
  return Json{{"used", fill.used}, {"capacity", fill.capacity}};
}

Json inspect_json(const SegmentReport& r) {
  Json json = service_json(r);
  if (!r.valid) return json;
  json["request_payload_alignment"] = r.request_payload_alignment;
  json["response_payload_alignment"] = r.response_payload_alignment;
  Json attributes = Json::array();
  for (const floe::Attribute& attribute : r.attributes)
    attributes.push_back(Json{{"key", attribute.key}, {"value", attribute.value}});
  json["attributes"] = attributes;
  Json clients = Json::array(), servers = Json::array();
  for (const auto& port : r.ports) {
    Json entry{{"slot", port.slot},
               {"generation", port.generation},
               {"node", port.node_name},
               {"pid", port.pid},
               {"alive", port.alive},
               {"data_segments", port.data_segments},
               {"data_segment_bytes", port.data_segment_bytes}};
    if (port.data_segments > 0) {
      entry["newest_data_segment"] = port.newest_data_segment;
      entry["newest_max_slice_len"] = port.newest_max_slice_len;
    }
    if (port.server) {
      servers.push_back(entry);
      continue;
    }
    Json queues = Json::array();
    for (std::size_t s = 0; s < port.queued_to_server.size(); ++s) {
      Json queue = fill_json(port.queued_to_server[s]);
      queue["server"] = s;
      if (port.queued_to_server[s].used > 0) queues.push_back(queue);
    }
    entry["requests_queued"] = queues;
    entry["active_requests"] = port.active_requests;
    clients.push_back(entry);
  }
  json["clients"] = clients;
  json["servers"] = servers;
  Json channels = Json::array();
  for (const auto& channel : r.response_channels) {
    channels.push_back(Json{{"server", channel.server},
                            {"client", channel.client},
                            {"channel", channel.channel},
                            {"responses_queued", fill_json(channel.responses)},
                            {"server_blocked", channel.server_blocked}});
  }
  json["response_channels"] = channels;
  return json;
}

int inspect(const std::string& domain, const std::string& service, bool group_access, bool json) {
  if (!floe::detail::is_valid_service_name(service)) {
    std::fprintf(stderr, "floe: '%s' is not a valid service name: %s\n", printable(service).c_str(),
                 floe::detail::kServiceNameRule);
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
  if (json) {
    print_json(inspect_json(r));
    return r.valid ? 0 : 1;
  }
  std::printf("service   %s\nobject    /dev/shm%s (%llu bytes)\nstate     %s\n",
              printable(r.service).c_str(), object.c_str(),
              static_cast<unsigned long long>(r.usage.segment_size), state_of(r).c_str());
  if (!r.valid) return 1;
  std::printf("request   %s, user header %s, payload alignment %llu\n",
              type_of(r.request, r.request_max_slice_len).c_str(),
              type_of(r.request_user_header).c_str(),
              static_cast<unsigned long long>(r.request_payload_alignment));
  std::printf("response  %s, user header %s, payload alignment %llu\n",
              type_of(r.response, r.response_max_slice_len).c_str(),
              type_of(r.response_user_header).c_str(),
              static_cast<unsigned long long>(r.response_payload_alignment));
  std::printf("limits    %s\n", limits_of(r.limits).c_str());
  for (const floe::Attribute& attribute : r.attributes) {
    std::printf("attribute %s = %s\n", printable(attribute.key).c_str(),
                printable(attribute.value).c_str());
  }
  for (const auto& node : r.nodes) {
    std::printf("node %-4u pid %-8llu %s, %u client%s, %u server%s, name %s\n", node.index,
                static_cast<unsigned long long>(node.pid),
                node.alive ? "alive"
                           : "dead (reclaimed when a process next opens the service or creates a "
                             "port in it, or by floe clean)",
                node.clients, node.clients == 1 ? "" : "s", node.servers,
                node.servers == 1 ? "" : "s", printable(node.name).c_str());
  }
  for (const auto& port : r.ports) {
    std::string queues;
    for (std::size_t s = 0; s < port.queued_to_server.size(); ++s) {
      if (port.queued_to_server[s].used == 0) continue;
      queues += ", requests queued " + fill_of(port.queued_to_server[s]) + " to server " +
                std::to_string(s);
    }
    const std::string requests = port.server ? std::string()
                                             : ", " + std::to_string(port.active_requests) +
                                                   " active request" +
                                                   (port.active_requests == 1 ? "" : "s") + queues;
    const std::string newest_max =
        port.newest_max_slice_len == 0
            ? std::string(", its header not valid")
            : ", max slice length " + std::to_string(port.newest_max_slice_len);
    const std::string data = port.data_segments == 0
                                 ? std::string()
                                 : ", " + std::to_string(port.data_segments) + " data segment" +
                                       (port.data_segments == 1 ? "" : "s") + " (" +
                                       std::to_string(port.data_segment_bytes) +
                                       " bytes, newest number " +
                                       std::to_string(port.newest_data_segment) + newest_max + ")";
    std::printf("%-6s %-3u generation %-6u pid %-8llu %s, node %s%s%s\n",
                port.server ? "server" : "client", port.slot, port.generation,
                static_cast<unsigned long long>(port.pid), port.alive ? "alive" : "dead",
                printable(port.node_name).c_str(), requests.c_str(), data.c_str());
  }
  for (const auto& channel : r.response_channels) {
    std::printf("responses server %u -> client %u (request slot %u): %s queued%s\n", channel.server,
                channel.client, channel.channel, fill_of(channel.responses).c_str(),
                channel.server_blocked ? ", server blocked on a full client" : "");
  }
  std::printf("in use    request chunks %llu/%llu, response chunks %llu/%llu\n",
              static_cast<unsigned long long>(r.usage.request_chunks_in_use),
              static_cast<unsigned long long>(r.usage.request_chunks),
              static_cast<unsigned long long>(r.usage.response_chunks_in_use),
              static_cast<unsigned long long>(r.usage.response_chunks));
  if (r.usage.data_segments > 0) {
    std::printf("data      %u data segment%s of grown ports, %llu bytes\n", r.usage.data_segments,
                r.usage.data_segments == 1 ? "" : "s",
                static_cast<unsigned long long>(r.usage.data_segment_bytes));
  }
  return 0;
}

/// A node across the services it holds: one per (domain, name, pid).
struct NodeAcross {
  std::string domain, name;
  std::uint64_t pid = 0;
  bool alive = false;
  struct Held {
    std::string service;
    std::uint32_t clients = 0, servers = 0;
    bool alive = false;
  };
  std::vector<Held> services;
};

int nodes(const std::string& domain, bool all, bool group_access, bool json) {
  std::map<std::tuple<std::string, std::string, std::uint64_t>, NodeAcross> by_node;
  for (const SegmentReport& r : reports_of(domain, all, group_access)) {
    for (const auto& node : r.nodes) {
      NodeAcross& across = by_node[{r.domain, node.name, node.pid}];
      across.domain = r.domain;
      across.name = node.name;
      across.pid = node.pid;
      across.alive = across.alive || node.alive;
      across.services.push_back({r.service, node.clients, node.servers, node.alive});
    }
  }
  if (json) {
    Json list = Json::array();
    for (const auto& [key, node] : by_node) {
      Json services = Json::array();
      for (const auto& held : node.services) {
        services.push_back(Json{{"service", held.service},
                                {"clients", held.clients},
                                {"servers", held.servers},
                                {"alive", held.alive}});
      }
      list.push_back(Json{{"domain", node.domain},
                          {"name", node.name},
                          {"pid", node.pid},
                          {"alive", node.alive},
                          {"services", services}});
    }
    print_json(Json{{"domain", all ? Json() : Json(domain)}, {"nodes", list}});
    return 0;
  }
  if (by_node.empty()) {
    std::printf("no nodes in %s\n", all ? "any domain" : ("domain '" + domain + "'").c_str());
    return 0;
  }
  Table table({"DOMAIN", "NODE", "PID", "STATE", "SERVICES (CLIENTS/SERVERS)"}, kColumnCap);
  for (const auto& [key, node] : by_node) {
    std::string services;
    for (const auto& held : node.services) {
      if (!services.empty()) services += ", ";
      services += printable(held.service) + " (" + std::to_string(held.clients) + "/" +
                  std::to_string(held.servers) + ")";
    }
    table.add({node.domain, printable(node.name), std::to_string(node.pid),
               node.alive ? "alive" : "dead", services});
  }
  table.print();
  return 0;
}

/// A service live processes still hold keeps its object, but what its dead processes left in it
/// is reclaimed as Node::clean_up_dead_nodes() does (the same code): their node records and
/// ports, and the data segments their ports wrote (a SIGKILLed growing port's, say). Adds the
/// data segments removed (or, dry, to remove) to `removed`.
void reclaim_dead_nodes_of_live_service(const SegmentReport& r, bool dry_run, bool group_access,
                                        int& removed, int& failed) {
  std::uint32_t dead_nodes = 0, dead_ports = 0, dead_data_segments = 0;
  for (const auto& node : r.nodes)
    dead_nodes += node.alive ? 0 : 1;
  for (const auto& port : r.ports) {
    if (port.alive) continue;
    ++dead_ports;
    dead_data_segments += port.data_segments;
  }
  if (dead_nodes == 0) return;
  const std::string what = "dead node(s) of live service '" + printable(r.service) + "'";
  if (dry_run) {
    std::printf("would reclaim /dev/shm%s (%s): %u node(s), %u port(s), %u data segment(s)\n",
                r.object.c_str(), what.c_str(), dead_nodes, dead_ports, dead_data_segments);
    removed += static_cast<int>(dead_data_segments);
    return;
  }
  try {
    const floe::DeadNodeCleanup cleaned =
        floe::detail::ServiceSegment::clean_up_dead_nodes_of(r.object, group_access);
    if (cleaned.nodes == 0 && cleaned.removed_services == 0) return;  // reclaimed meanwhile
    std::printf("reclaimed /dev/shm%s (%s): %u node(s), %u port(s), %u data segment(s)%s\n",
                r.object.c_str(), what.c_str(), cleaned.nodes, cleaned.ports,
                cleaned.removed_data_segments,
                cleaned.removed_services > 0 ? "; the service, left unheld, removed" : "");
    removed += static_cast<int>(cleaned.removed_data_segments + cleaned.removed_services);
  } catch (const floe::Error& error) {
    std::printf("FAILED  /dev/shm%s (%s): %s\n", r.object.c_str(), what.c_str(), error.what());
    ++failed;
  }
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
      if (r.valid) reclaim_dead_nodes_of_live_service(r, dry_run, group_access, removed, failed);
      ++kept;
      continue;
    }
    // Its ports' data segments go with it (remove_if_unused): counted with it.
    const int data_segments = static_cast<int>(
        floe::detail::objects_with_prefix(floe::detail::data_segment_prefix(object)).size());
    std::string what =
        r.valid ? "stale service '" + r.service + "'" : "damaged, unused: " + r.problem;
    if (data_segments > 0) what += ", with " + std::to_string(data_segments) + " data segment(s)";
    if (dry_run) {
      std::printf("would remove /dev/shm%s (%s)\n", object.c_str(), what.c_str());
      removed += 1 + data_segments;
      continue;
    }
    const auto removal = floe::detail::remove_if_unused(object, group_access);
    switch (removal.outcome) {
      case floe::detail::Removal::removed:
        std::printf("removed /dev/shm%s (%s)\n", object.c_str(), what.c_str());
        removed += 1 + data_segments;
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
  // Data segments whose service is gone (a crash during its removal); those of the services
  // removed above went with them.
  for (const std::string& object :
       floe::detail::orphaned_data_segments(all ? std::string() : domain)) {
    if (dry_run) {
      std::printf("would remove /dev/shm%s (data segment of no service)\n", object.c_str());
      ++removed;
      continue;
    }
    const auto removal = floe::detail::remove_orphaned_data_segment(object);
    if (removal.outcome == floe::detail::Removal::removed) {
      std::printf("removed /dev/shm%s (data segment of no service)\n", object.c_str());
      ++removed;
    } else if (removal.outcome == floe::detail::Removal::failed) {
      std::printf("FAILED  /dev/shm%s (data segment of no service): %s\n", object.c_str(),
                  removal.reason.c_str());
      ++failed;
    }
  }
  // `removed` counts objects: stale services and their data segments, and the data segments of
  // dead ports (also named in their "reclaimed" lines); `kept` the service objects left in place.
  std::printf("%d object(s) %s, %d service object(s) kept (in use, or not floe's)", removed,
              dry_run ? "to remove" : "removed", kept);
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
  std::string domain;
  bool all = false;
  bool dry_run = false;
  bool json = false;
  std::string service;
  auto add_domain = [&](CLI::App* command, bool every_domain) {
    command->add_option("--domain", domain, "the domain (default: FLOE_DOMAIN / config)");
    if (every_domain) command->add_flag("--all", all, "every domain");
  };
  auto add_json = [&](CLI::App* command) {
    command->add_flag("--json", json, "one JSON document on stdout (keys: see README)");
  };

  auto* list_command = app.add_subcommand("list", "every service of the domain");
  add_domain(list_command, true);
  add_json(list_command);
  auto* inspect_command = app.add_subcommand("inspect", "one service in detail");
  inspect_command->add_option("service", service, "the service's name")->required();
  add_domain(inspect_command, false);
  add_json(inspect_command);
  auto* nodes_command =
      app.add_subcommand("nodes", "every node of the domain, live and dead, across its services");
  add_domain(nodes_command, true);
  add_json(nodes_command);
  auto* clean_command = app.add_subcommand("clean", "remove what dead processes left behind");
  add_domain(clean_command, true);
  clean_command->add_flag("--dry-run", dry_run, "only say what would be removed");
  auto* limits_command =
      app.add_subcommand("limits", "every limit of a service: default, range, meaning");
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is CLI11's exit code 0; any other mistake on the command line is a usage error,
    // exit 2 as for other Unix tools, with CLI11's message.
    const int printed = app.exit(e);
    return printed == 0 ? 0 : 2;
  }
  if (app.get_subcommands().empty()) {
    std::printf("%s", app.help().c_str());
    return 0;
  }
  if (*limits_command) return limits();

  const floe::Config config = floe::Config::from_environment();
  if (domain.empty()) domain = config.domain;
  if (!floe::detail::is_valid_domain(domain)) {
    std::fprintf(stderr, "floe: invalid domain '%s'\n", domain.c_str());
    return 2;
  }
  if (*list_command) return list(domain, all, config.group_access, json);
  if (*inspect_command) return inspect(domain, service, config.group_access, json);
  if (*nodes_command) return nodes(domain, all, config.group_access, json);
  return clean(domain, all, dry_run, config.group_access);
} catch (const floe::Error& e) {
  std::fprintf(stderr, "floe: %s\n", e.what());
  return 1;
}
