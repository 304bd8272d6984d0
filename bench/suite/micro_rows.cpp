// Micro-benchmarks of floe's building blocks, each in the benchmark process alone: loaning and
// releasing a chunk, a whole request-response exchange between a client and a server of one
// service, the lock-free index queue under every port, a co_await that completes at once, and a
// Task finishing inline or resumed by the runtime. Rows "micro/<block>/<variant>": ordinary
// Google Benchmark loops (the time of an iteration is far too short to clock on its own), with
// the heap allocations per iteration as allocs_per_op.

#include <benchmark/benchmark.h>
#include <floe/floe.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "shm/index_queue.hpp"
#include "suite.hpp"

namespace floe::bench {
namespace {

using namespace std::chrono_literals;

auto micro_service(floe::Node& node) {
  return node.service_builder("Bench/Micro").request_response<std::uint64_t, std::uint64_t>();
}

floe::Config micro_config() {
  floe::Config config;
  config.domain = unique_name("micro");
  return config;
}

/// Counts this process's heap allocations from construction to report(), per iteration.
class AllocationsPerOp {
 public:
  explicit AllocationsPerOp(benchmark::State& state) : state_(state), before_(allocations()) {}
  void report() {
    if (state_.iterations() == 0) return;
    state_.counters["allocs_per_op"] =
        static_cast<double>(allocations() - before_) / static_cast<double>(state_.iterations());
  }

 private:
  benchmark::State& state_;
  std::uint64_t before_;
};

/// client.loan() of an 8-byte request, dropped unsent: the chunk goes back to the pool.
void micro_loan_release_request(benchmark::State& state) {
  floe::Node node = floe::Node::create("bench-micro", micro_config());
  auto service = micro_service(node).max_clients(1).max_servers(1).create();
  auto client = service.client_builder().create();
  AllocationsPerOp allocs(state);
  for (auto _ : state) {
    auto request = client.loan();
    benchmark::DoNotOptimize(&*request);
  }
  allocs.report();
}

/// ActiveRequest::loan() of an 8-byte response, dropped unsent, on a request held open.
void micro_loan_release_response(benchmark::State& state) {
  floe::Node node = floe::Node::create("bench-micro", micro_config());
  auto service = micro_service(node).max_clients(1).max_servers(1).create();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  auto pending = client.send_copy(1);
  auto active = server.try_receive();
  if (!active) {
    state.SkipWithError("the server did not receive the request sent to it");
    return;
  }
  AllocationsPerOp allocs(state);
  for (auto _ : state) {
    auto response = active->loan();
    benchmark::DoNotOptimize(&*response);
  }
  allocs.report();
}

/// A whole exchange between a client and a server of one service in this process: the client
/// loans and sends a request, the server takes it, loans and sends a response and drops the
/// request, the client receives the response; then everything is released. `Slice`: the request
/// is a floe::Slice<std::byte> of 8 elements instead of one std::uint64_t, what a slice's length
/// costs on the way.
template <bool Slice>
void micro_send_receive_one_process(benchmark::State& state) {
  floe::Node node = floe::Node::create("bench-micro", micro_config());
  auto service = [&] {
    if constexpr (Slice) {
      return node.service_builder("Bench/MicroSlice")
          .request_response<floe::Slice<std::byte>, std::uint64_t>()
          .request_max_slice_len(sizeof(std::uint64_t))
          .max_clients(1)
          .max_servers(1)
          .create();
    } else {
      return micro_service(node).max_clients(1).max_servers(1).create();
    }
  }();
  auto server = service.server_builder().create();
  auto client = service.client_builder().create();
  std::uint64_t value = 0;
  AllocationsPerOp allocs(state);
  for (auto _ : state) {
    auto pending = [&] {
      if constexpr (Slice) {
        auto request = client.loan_slice_uninit(sizeof value);
        std::memcpy(request.payload().data(), &value, sizeof value);
        return std::move(request).send();
      } else {
        auto request = client.loan();
        *request = value;
        return std::move(request).send();
      }
    }();
    auto active = server.try_receive();
    if (!active) {
      state.SkipWithError("the server did not receive the request sent to it");
      break;
    }
    std::uint64_t received = 0;
    if constexpr (Slice) {
      std::memcpy(&received, active->payload().data(), sizeof received);
    } else {
      received = active->payload();
    }
    auto response = active->loan();
    *response = received + 1;
    if (!std::move(response).send()) {
      state.SkipWithError("the response was not delivered");
      break;
    }
    active.reset();
    auto answer = pending.try_receive();
    if (!answer || answer->payload() != value + 1) {
      state.SkipWithError("the client did not receive the response");
      break;
    }
    ++value;
  }
  allocs.report();
}

/// floe's index queue (every port's request and response buffers) in ordinary memory: one push
/// and one pop by the same thread, so the cost of its atomics without a peer's cache misses.
void micro_index_queue_push_pop(benchmark::State& state) {
  constexpr std::uint32_t kCapacity = 64;
  detail::QueueControl control{};
  std::vector<std::uint64_t> entries(kCapacity);
  detail::IndexQueue queue(&control, entries.data(), kCapacity);
  std::uint64_t value = 0;
  AllocationsPerOp allocs(state);
  for (auto _ : state) {
    const detail::QueueStatus pushed = queue.push(value);
    const detail::QueueResult popped = queue.pop();
    if (pushed != detail::QueueStatus::ok || popped.status != detail::QueueStatus::ok ||
        popped.value != value) {
      state.SkipWithError("the queue did not give back the entry pushed");
      break;
    }
    ++value;
  }
  allocs.report();
}

/// `co_await client.async_loan()` inside a floe::Runtime task while a chunk is free: the
/// operation completes in await_ready, the task never suspends; the loan is then dropped.
/// Compare micro/loan_release/request for what the co_await adds.
void micro_co_await_ready(benchmark::State& state) {
  floe::Node node = floe::Node::create("bench-micro", micro_config());
  auto service = micro_service(node).max_clients(1).max_servers(1).create();
  auto client = service.client_builder().create();
  floe::Runtime runtime;
  runtime.block_on([&]() -> floe::Task<void> {
    AllocationsPerOp allocs(state);
    for (auto _ : state) {
      auto request = co_await client.async_loan();
      benchmark::DoNotOptimize(&*request);
    }
    allocs.report();
  });
}

floe::Task<std::uint64_t> successor(std::uint64_t value) {
  co_return value + 1;
}

/// `co_await` of a Task that finishes without suspending: its frame is made, it runs to the
/// end inline, the awaiter goes on without suspending, the frame is destroyed.
void micro_task_inline(benchmark::State& state) {
  floe::Runtime runtime;
  runtime.block_on([&]() -> floe::Task<void> {
    std::uint64_t value = 0;
    AllocationsPerOp allocs(state);
    for (auto _ : state) {
      value = co_await successor(value);
      benchmark::DoNotOptimize(value);
    }
    allocs.report();
  });
}

/// A task that suspends and is resumed by the runtime's loop: `co_await floe::sleep_for(0ns)`
/// links the operation into the reactor, the loop's next poll finds its deadline passed and
/// resumes the task. The loop's cost per hand-off, no kernel involved.
void micro_task_resume(benchmark::State& state) {
  floe::Runtime runtime;
  runtime.block_on([&]() -> floe::Task<void> {
    AllocationsPerOp allocs(state);
    for (auto _ : state) {
      co_await floe::sleep_for(0ns);
    }
    allocs.report();
  });
}

/// An ordinary Google Benchmark row of `count` iterations (samples(count) of them), in ns, run
/// where the other rows run their client.
void register_micro(const std::string& name, std::int64_t count, void (*body)(benchmark::State&)) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [body](benchmark::State& state) {
                                 place_client();
                                 body(state);
                               })
      ->Iterations(samples(count))
      ->Unit(benchmark::kNanosecond);
}

// Counts for ~0.15-0.3 s a row on an idle core, ~1.5 s in all (a twentieth of that with
// FLOE_BENCH_QUICK=1).
[[maybe_unused]] const bool registered = [] {
  register_micro("micro/loan_release/request", 10'000'000, micro_loan_release_request);
  register_micro("micro/loan_release/response", 10'000'000, micro_loan_release_response);
  register_micro("micro/send_receive/one_process", 2'000'000,
                 micro_send_receive_one_process<false>);
  register_micro("micro/send_receive/one_process_slice_8", 2'000'000,
                 micro_send_receive_one_process<true>);
  register_micro("micro/index_queue/push_pop", 40'000'000, micro_index_queue_push_pop);
  register_micro("micro/co_await/ready", 10'000'000, micro_co_await_ready);
  register_micro("micro/task/inline", 8'000'000, micro_task_inline);
  register_micro("micro/task/resume", 3'000'000, micro_task_resume);
  return true;
}();

}  // namespace
}  // namespace floe::bench
