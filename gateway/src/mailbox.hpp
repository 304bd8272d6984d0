#pragma once
// Work gRPC's threads hand to the floe loop: every port is touched on that loop only.

#include <floe/task.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "remote_event.hpp"

namespace floe::gateway {

class Mailbox {
 public:
  /// From any thread: `work` runs on the floe loop, in the order posted. Work posted before
  /// serve() began, or after it ended, is dropped.
  void post(std::function<void()> work) {
    const std::lock_guard lock(mutex_);
    if (event_ == nullptr) return;
    posted_.push_back(std::move(work));
    event_->set();
  }

  /// The loop's side: runs what is posted, until the runtime stops (its cancel ends the wait).
  Task<void> serve() {
    auto event = std::make_shared<RemoteEvent>(*detail::Reactor::current());
    {
      const std::lock_guard lock(mutex_);
      event_ = event;
      reactor_ = detail::Reactor::current();
    }
    struct Closed {  // however serve() ends, later posts are dropped
      Mailbox& mailbox;
      ~Closed() {
        const std::lock_guard lock(mailbox.mutex_);
        mailbox.event_ = nullptr;
        mailbox.reactor_ = nullptr;
        mailbox.posted_.clear();
      }
    } closed{*this};
    std::vector<std::function<void()>> running;
    for (;;) {
      co_await event->wait();
      event->reset();
      {
        const std::lock_guard lock(mutex_);
        running.swap(posted_);
      }
      for (auto& work : running)
        work();
      running.clear();
    }
  }

  /// The loop serve() runs on (nullptr before and after): for RemoteEvents of work it runs.
  detail::Reactor* reactor() {
    const std::lock_guard lock(mutex_);
    return reactor_;
  }

 private:
  std::mutex mutex_;
  detail::Reactor* reactor_ = nullptr;
  std::shared_ptr<RemoteEvent> event_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace floe::gateway
