#pragma once
// A doubly linked list threaded through its elements: linking and unlinking allocate nothing and
// never fail, which is what lets a suspended coroutine's operation, living in its frame, sit in
// several lists at once (its event loop's and its port's). An element names its hook; one
// element may have several hooks and so be in several lists.

namespace floe::detail {

template <typename T>
struct ListHook {
  T* previous = nullptr;
  T* next = nullptr;
};

template <typename T, ListHook<T> T::*Hook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const noexcept { return head_ == nullptr; }
  T* front() const noexcept { return head_; }
  static T* next(const T& element) noexcept { return (element.*Hook).next; }

  void push_front(T& element) noexcept {
    ListHook<T>& hook = element.*Hook;
    hook.previous = nullptr;
    hook.next = head_;
    if (head_ != nullptr) (head_->*Hook).previous = &element;
    head_ = &element;
  }

  /// `element` must be in this list.
  void remove(T& element) noexcept {
    ListHook<T>& hook = element.*Hook;
    if (hook.previous != nullptr) (hook.previous->*Hook).next = hook.next;
    if (hook.next != nullptr) (hook.next->*Hook).previous = hook.previous;
    if (head_ == &element) head_ = hook.next;
    hook.previous = hook.next = nullptr;
  }

  /// Calls `visit` on each element; `visit` may remove the element it is given (and only that).
  template <typename Visit>
  void for_each(Visit visit) {
    for (T* element = head_; element != nullptr;) {
      T* following = (element->*Hook).next;
      visit(*element);
      element = following;
    }
  }

 private:
  T* head_ = nullptr;
};

}  // namespace floe::detail
