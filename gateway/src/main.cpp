// floe-gateway: carries floe services between hosts over gRPC. `export` runs on the server's
// host (a floe client of each named service), `import` on the client's host (a floe server of
// each, with the remote service's types and limits). docs/GATEWAY.md.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <floe/config.hpp>
#include <floe/error.hpp>
#include <floe/node.hpp>
#include <floe/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "description.hpp"
#include "exporter.hpp"
#include "floe_gateway.grpc.pb.h"
#include "importer.hpp"

namespace {

using floe::gateway::v1::Gateway;

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

int wait_for_stop(const sigset_t& set) {
  int signal = 0;
  sigwait(&set, &signal);
  std::fprintf(stderr, "floe-gateway: stopping (signal %d)\n", signal);
  return 0;
}

int run_export(const std::string& listen, const std::vector<std::string>& services,
               int keepalive_ms) {
  const sigset_t stop = stop_signals();
  const floe::Config config = floe::Config::from_environment();
  floe::Node node = floe::Node::create("floe-gateway export on " + listen, config);
  floe::gateway::Mailbox mailbox;
  floe::gateway::Exporter exporter(node, services, mailbox);
  // The floe loop: every port is touched there; gRPC's threads post to it.
  floe::Runtime runtime;
  runtime.spawn(mailbox.serve());
  std::thread loop([&runtime] { runtime.run(); });
  while (mailbox.reactor() == nullptr)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  grpc::ServerBuilder builder;
  // Pings both ways every keepalive_ms, each to be answered within keepalive_ms: an importing
  // gateway that stalls or whose network goes is noticed (its calls cancelled, their floe
  // requests dropped) within about twice that. Importers ping as often: accepted.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             keepalive_ms / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // A second gateway on a port in use must fail, not share it (gRPC allows SO_REUSEPORT).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&exporter);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr,
                 "floe-gateway: cannot listen on %s: in use, or not an address of this host\n",
                 listen.c_str());
    runtime.stop();
    loop.join();
    return 1;
  }
  std::printf("floe-gateway: exporting %zu service(s) of domain '%s' on port %d\n", services.size(),
              config.domain.c_str(), port);
  std::fflush(stdout);
  const int code = wait_for_stop(stop);
  // Calls in progress are cancelled; their floe requests are dropped on the loop, which runs on
  // until they are.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  runtime.stop();
  loop.join();
  return code;
}

/// A channel to the exporting gateway that pings it every keepalive_ms and gives up on it when
/// a ping is not answered within keepalive_ms: a stalled gateway or a lost network fails the
/// calls in progress (their local streams end) within about twice that, never a hang.
std::shared_ptr<grpc::Channel> channel_to(const std::string& connect, int keepalive_ms) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnecting after the exporting gateway restarts: tried again within a second or two.
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return grpc::CreateCustomChannel(connect, grpc::InsecureChannelCredentials(), arguments);
}

int run_import(const std::string& connect, const std::vector<std::string>& services,
               int keepalive_ms) {
  const sigset_t stop = stop_signals();
  const floe::Config config = floe::Config::from_environment();
  floe::Node node = floe::Node::create("floe-gateway import from " + connect, config);
  // Declared first, so it goes last: gRPC's threads may still wake its loop while the rest goes.
  floe::Runtime runtime;
  floe::gateway::Importer importer(node, channel_to(connect, keepalive_ms), services,
                                   std::chrono::seconds(10));
  for (floe::gateway::ImportedService& service : importer.services()) {
    runtime.spawn(importer.serve(service));
    std::printf("floe-gateway: imported '%s' from %s\n", service.description.service().c_str(),
                connect.c_str());
  }
  std::fflush(stdout);
  std::thread loop([&runtime] { runtime.run(); });
  const int code = wait_for_stop(stop);
  runtime.stop();
  loop.join();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"floe-gateway: carries floe services between hosts over gRPC"};
  app.require_subcommand(1);
  std::string listen = "127.0.0.1:7755";
  std::string connect = "127.0.0.1:7755";
  std::vector<std::string> export_services, import_services;
  CLI::App* exporting =
      app.add_subcommand("export", "serve the named local services to importing gateways");
  exporting->add_option("--listen", listen, "address to listen on (host:port)")
      ->capture_default_str();
  exporting->add_option("--service", export_services, "a service to export (repeatable)")
      ->required();
  CLI::App* importing =
      app.add_subcommand("import", "serve the named remote services in the local domain");
  importing->add_option("--connect", connect, "the exporting gateway (host:port)")
      ->capture_default_str();
  importing->add_option("--service", import_services, "a service to import (repeatable)")
      ->required();
  int keepalive_ms = 1000;
  for (CLI::App* command : {exporting, importing}) {
    command
        ->add_option("--keepalive-ms", keepalive_ms,
                     "ping the other gateway this often; one silent for as long again is "
                     "given up on (its calls end)")
        ->capture_default_str()
        ->check(CLI::Range(10, 3'600'000));
  }
  CLI11_PARSE(app, argc, argv);
  try {
    if (*exporting) return run_export(listen, export_services, keepalive_ms);
    return run_import(connect, import_services, keepalive_ms);
  } catch (const floe::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
