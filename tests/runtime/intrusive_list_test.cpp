// The list every waiting operation sits in: a walk over it survives the visit removing elements
// other than the one visited, as completing one operation may cancel others of its port.
#include <gtest/gtest.h>

#include <vector>

#include "floe/detail/intrusive_list.hpp"

namespace floe::detail {
namespace {

struct Element {
  int value = 0;
  ListHook<Element> hook;
};
using List = IntrusiveList<Element, &Element::hook>;

TEST(IntrusiveList, AWalkGoesOnPastElementsTheVisitRemoves) {
  Element e[5];
  List list;
  for (int i = 4; i >= 0; --i) {
    e[i].value = i;
    list.push_front(e[i]);
  }
  std::vector<int> visited;
  list.for_each([&](Element& element) {
    visited.push_back(element.value);
    if (element.value == 1) {
      list.remove(e[2]);  // the very next one
      list.remove(e[1]);  // and itself
    }
    if (element.value == 3) list.remove(e[0]);  // one already visited
  });
  EXPECT_EQ(visited, (std::vector<int>{0, 1, 3, 4}));
  std::vector<int> left;
  list.for_each([&](Element& element) { left.push_back(element.value); });
  EXPECT_EQ(left, (std::vector<int>{3, 4}));
}

TEST(IntrusiveList, AWalkEndsWhenTheVisitEmptiesTheList) {
  Element e[3];
  List list;
  for (Element& element : e)
    list.push_front(element);
  int visits = 0;
  list.for_each([&](Element&) {
    ++visits;
    while (!list.empty())
      list.remove(*list.front());
  });
  EXPECT_EQ(visits, 1);
  EXPECT_TRUE(list.empty());
}

}  // namespace
}  // namespace floe::detail
