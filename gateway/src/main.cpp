// floe-gateway: carries floe services between hosts over gRPC. `export` runs on the server's
// host (a floe client of each named service), `import` on the client's host (a floe server of
// each, with the remote service's types and limits); one process may do both. docs/GATEWAY.md.

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <floe/config.hpp>
#include <floe/error.hpp>
#include <floe/log.hpp>
#include <floe/node.hpp>
#include <floe/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connection_watch.hpp"
#include "exporter.hpp"
#include "importer.hpp"
#include "log.hpp"
#include "options.hpp"
#include "tls.hpp"

namespace floe::gateway {
namespace {

/// gRPC's own log lines (a TLS handshake refused, a peer that broke off) in floe's log, with
/// the gateway's other lines, rather than in gRPC's format on stderr.
void log_grpc_line(gpr_log_func_args* line) {
  const LogLevel level =
      line->severity == GPR_LOG_SEVERITY_ERROR ? LogLevel::warn : LogLevel::debug;
  detail::log(level, [&] { return std::string("floe-gateway: gRPC: ") + line->message; });
}

/// Blocks SIGINT and SIGTERM in every thread (gRPC's included, started after) and waits for
/// one: the gateway's way to stop.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void wait_for_stop(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  std::fprintf(stderr, "floe-gateway: stopping (signal %d)\n", signal);
}

/// The gRPC server of an exporting gateway. Pings importing gateways every keepalive_ms, each
/// to be answered within keepalive_ms: one that stalls, or whose network goes, is noticed (its
/// calls cancelled, their floe requests dropped) within about twice that.
std::unique_ptr<grpc::Server> start_server(const ExportOptions& options, Exporter& exporter,
                                           int& port) {
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, options.keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Importing gateways ping as often: accepted.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             options.keepalive_ms / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // A second gateway on a port in use must fail, not share it (gRPC allows SO_REUSEPORT).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen, server_credentials(options.tls), &port);
  builder.RegisterService(&exporter);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    throw Error(Errc::io_setup_failed, "floe-gateway: cannot listen on " + options.listen +
                                           ": in use, or not an address of this host");
  }
  return server;
}

/// A channel to the exporting gateway. It pings every keepalive_ms and gives up on a gateway
/// that does not answer within keepalive_ms (a stalled one, a lost network): the calls in
/// progress fail and their local streams end within about twice that, never hang.
std::shared_ptr<grpc::Channel> channel_to(const ImportOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_ms);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, options.keepalive_ms);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnecting after the exporting gateway restarts: tried again within a second or two.
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Connected until stopped, calls or not: an idle channel would look like a lost one.
  arguments.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, std::numeric_limits<int>::max());
  // Flow control end to end: each call's receive window stays at window_kib (gRPC would grow
  // it to many megabytes by probing the link's bandwidth-delay product), so a client that stops
  // reading holds the remote server back once that much is on its way.
  arguments.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  arguments.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, options.window_kib * 1024);
  if (!options.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(options.connect, channel_credentials(options.tls), arguments);
}

int run(const GatewayOptions& options) {
  const sigset_t stop = stop_signals();
  // A gateway says what it connects, loses and refuses, unless FLOE_LOG says otherwise.
  if (const char* level = std::getenv("FLOE_LOG"); level == nullptr || *level == '\0') {
    set_log_level(LogLevel::info);
  }
  gpr_set_log_function(log_grpc_line);
  const Config config = Config::from_environment();
  // Each port is touched on this one loop only; gRPC's threads post to it through the mailbox.
  // Declared first, gone last: gRPC's threads may still post while the rest goes.
  Mailbox mailbox;
  Runtime runtime;
  runtime.spawn(mailbox.serve());
  struct Loop {
    Runtime& runtime;
    std::thread thread{[this] { runtime.run(); }};
    void stop() {
      runtime.stop();
      if (thread.joinable()) thread.join();
    }
    ~Loop() { stop(); }
  } loop{runtime};
  while (mailbox.reactor() == nullptr)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::optional<Node> export_node;
  std::unique_ptr<Exporter> exporter;
  std::unique_ptr<grpc::Server> server;
  if (options.exporting) {
    const ExportOptions& o = *options.exporting;
    export_node.emplace(Node::create("floe-gateway export on " + o.listen, config));
    exporter = std::make_unique<Exporter>(*export_node, o.services,
                                          static_cast<std::uint32_t>(o.client_ports), mailbox);
    int port = 0;
    server = start_server(o, *exporter, port);
    std::printf(
        "floe-gateway: exporting %zu service(s) of domain '%s', listening on %s%s, "
        "port %d\n",
        o.services.size(), config.domain.c_str(), o.listen.c_str(),
        o.tls.any() ? (o.tls.ca.empty() ? " (TLS)" : " (mutual TLS)") : "", port);
    std::fflush(stdout);
  }
  std::optional<Node> import_node;
  std::unique_ptr<Importer> importer;
  std::unique_ptr<ConnectionWatch> connection_watch;
  if (options.importing) {
    const ImportOptions& o = *options.importing;
    import_node.emplace(Node::create("floe-gateway import from " + o.connect, config));
    std::shared_ptr<grpc::Channel> channel = channel_to(o);
    importer = std::make_unique<Importer>(*import_node, channel, o.services,
                                          std::chrono::seconds(o.connect_timeout_s));
    Importer* serving = importer.get();
    connection_watch =
        std::make_unique<ConnectionWatch>(channel, o.connect, [&mailbox, serving](bool up) {
          mailbox.post([serving, up] { serving->on_connection(up); });
        });
    mailbox.post([serving] {
      for (ImportedService& service : serving->services())
        Runtime::current()->spawn(serving->serve(service));
    });
    for (const ImportedService& service : importer->services()) {
      std::printf("floe-gateway: imported '%s' from %s\n", service.description.service().c_str(),
                  o.connect.c_str());
    }
    std::fflush(stdout);
  }
  wait_for_stop(stop);
  // Calls in progress are cancelled; the loop drops their floe requests before it stops.
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  // Before the importer goes: its calls' tasks on the loop use it until they unwind.
  loop.stop();
  return 0;
}

void add_tls_options(CLI::App& command, TlsFiles& tls, const char* ca_meaning) {
  command.add_option("--tls-cert", tls.cert, "this gateway's certificate (PEM): TLS")
      ->check(CLI::ExistingFile);
  command.add_option("--tls-key", tls.key, "the private key of --tls-cert (PEM)")
      ->check(CLI::ExistingFile);
  command.add_option("--tls-ca", tls.ca, ca_meaning)->check(CLI::ExistingFile);
}

CLI::Validator in(IntRange range) {
  return CLI::Range(range.min, range.max);
}

}  // namespace
}  // namespace floe::gateway

int main(int argc, char** argv) {
  using namespace floe::gateway;
  CLI::App app{"floe-gateway: carries floe services between hosts over gRPC"};
  app.require_subcommand(0, 2);
  std::string config_file;
  app.add_option("--config", config_file,
                 "a TOML file with an [export] and/or an [import] table (instead of the "
                 "subcommands; docs/GATEWAY.md)")
      ->check(CLI::ExistingFile);
  ExportOptions exporting_options;
  ImportOptions importing_options;

  CLI::App* exporting =
      app.add_subcommand("export", "serve the named local services to importing gateways");
  exporting->add_option("--listen", exporting_options.listen, "address to listen on (host:port)")
      ->capture_default_str();
  exporting->add_option("--service", exporting_options.services, "a service to export (repeatable)")
      ->required();
  exporting
      ->add_option("--client-ports", exporting_options.client_ports,
                   "client ports each service may take, opened as concurrent calls need them; "
                   "calls beyond their max_active_requests wait")
      ->capture_default_str()
      ->check(in(kClientPortsRange));
  add_tls_options(*exporting, exporting_options.tls,
                  "accept only importing gateways with a certificate this CA signed (mutual TLS)");

  CLI::App* importing =
      app.add_subcommand("import", "serve the named remote services in the local domain");
  importing->add_option("--connect", importing_options.connect, "the exporting gateway (host:port)")
      ->capture_default_str();
  importing->add_option("--service", importing_options.services, "a service to import (repeatable)")
      ->required();
  importing
      ->add_option("--window-kib", importing_options.window_kib,
                   "KiB of one call's responses on their way at most: a client that stops "
                   "reading holds the remote server back after this much")
      ->capture_default_str()
      ->check(in(kWindowKibRange));
  importing
      ->add_option("--connect-timeout-s", importing_options.connect_timeout_s,
                   "how long to wait for the exporting gateway at start")
      ->capture_default_str()
      ->check(in(kConnectTimeoutSRange));
  add_tls_options(*importing, importing_options.tls,
                  "the CA that signed the exporting gateway's certificate (TLS; default: the "
                  "system's)");
  importing->add_option("--tls-server-name", importing_options.tls_server_name,
                        "the name the exporting gateway's certificate carries, when not the "
                        "--connect host");
  for (auto [command, keepalive_ms] : {std::pair{exporting, &exporting_options.keepalive_ms},
                                       std::pair{importing, &importing_options.keepalive_ms}}) {
    command
        ->add_option("--keepalive-ms", *keepalive_ms,
                     "ping the other gateway this often; one silent for as long again is "
                     "given up on (its calls end)")
        ->capture_default_str()
        ->check(in(kKeepaliveMsRange));
  }
  // Exit codes: 0 stopped by SIGINT or SIGTERM (or --help), 1 an error while running (its
  // message on stderr), 2 a command line it cannot use (as the floe tool).
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (config_file.empty() == app.get_subcommands().empty()) {
    std::fprintf(stderr,
                 "floe-gateway: give either --config FILE or the subcommands "
                 "(export, import or both)\nRun with --help for more information.\n");
    return 2;
  }
  try {
    GatewayOptions options;
    if (!config_file.empty()) {
      options = read_options_file(config_file);
    } else {
      if (*exporting) options.exporting = exporting_options;
      if (*importing) options.importing = importing_options;
    }
    return run(options);
  } catch (const floe::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return error.code() == floe::Errc::invalid_config ? 2 : 1;  // options it cannot use: 2
  }
}
