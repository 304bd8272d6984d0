#pragma once
// A doubly linked list threaded through its elements: linking and unlinking allocate nothing and
// never fail, which is what lets a suspended coroutine's operation, living in its frame, sit in
// several lists at once (its event loop's and its port's). An element names its hook; one
// element may have several hooks and so be in several lists. The one list of the runtime: a
// Runtime's unfinished spawned tasks and the Asio service's pending operations use it too.

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
    if (cursor_ == &element) cursor_ = hook.next;  // a for_each in progress goes on past it
    hook.previous = hook.next = nullptr;
  }

  /// Calls `visit` on each element. `visit` may remove any elements, the one it is given
  /// included (completing one operation can free a port, which cancels the port's others): the
  /// walk goes on with the next element still in the list. Elements added meanwhile at the front
  /// are not visited. Not to be nested: a visit must not walk the same list again.
  template <typename Visit>
  void for_each(Visit visit) {
    for (T* element = head_; element != nullptr; element = cursor_) {
      cursor_ = (element->*Hook).next;
      visit(*element);
    }
    cursor_ = nullptr;
  }

 private:
  T* head_ = nullptr;
  T* cursor_ = nullptr;  // the element a for_each visits next
};

}  // namespace floe::detail
