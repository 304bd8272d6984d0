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

int run_export(const std::string& listen, const std::vector<std::string>& services) {
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
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&exporter);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "floe-gateway: cannot listen on %s\n", listen.c_str());
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

int run_import(const std::string& connect, const std::vector<std::string>& services) {
  const sigset_t stop = stop_signals();
  const floe::Config config = floe::Config::from_environment();
  floe::Node node = floe::Node::create("floe-gateway import from " + connect, config);
  // Declared first, so it goes last: gRPC's threads may still wake its loop while the rest goes.
  floe::Runtime runtime;
  floe::gateway::Importer importer(node,
                                   grpc::CreateChannel(connect, grpc::InsecureChannelCredentials()),
                                   services, std::chrono::seconds(10));
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
  CLI11_PARSE(app, argc, argv);
  try {
    if (*exporting) return run_export(listen, export_services);
    return run_import(connect, import_services);
  } catch (const floe::Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
