#include <floe/floe.hpp>

#include <unistd.h>
#include <cstdint>
#include <cstdio>

int main() {
  floe::Config config;
  config.domain = "consumer" + std::to_string(::getpid());
  auto node = floe::Node::create("consumer", config);
  auto service = node.service_builder("Consumer/Check")
                     .request_response<std::uint64_t, std::uint64_t>()
                     .create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(21);
  auto request = server.try_receive();
  if (!request) return 1;
  request->send_copy(request->payload() * 2);
  auto response = pending.try_receive();
  if (!response) return 1;
  std::printf("consumer: %llu\n", static_cast<unsigned long long>(response->payload()));
  return 0;
}
