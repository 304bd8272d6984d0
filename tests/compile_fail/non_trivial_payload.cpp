// Must not compile: a std::string holds a pointer into one process's heap.
#include <floe/floe.hpp>

#include <string>

struct NotShmCompatible {
  std::string text;
};

int main() {
  auto node = floe::Node::create("compile-fail");
  auto service = node.service_builder("Compile/Fail")
                     .request_response<NotShmCompatible, int>()
                     .open_or_create();
  (void)service;
}
