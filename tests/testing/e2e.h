// The fixture of the end-to-end tests: the shared test stack (stack_infra_start) with the four
// services and the Open311 gateway of the e2e_services fixture, loaded once per suite.
//
//   class WalkingSkeleton : public testing::E2eSuite { ... stack_->services.at("intake") ... };
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "tests/testing/stack.h"

namespace meldpunt::testing {

class E2eSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    for (const char* name : {"intake", "routing", "deadline_watch", "notification", "open311"}) {
      ASSERT_EQ(stack->services.count(name), 1u)
          << "the e2e_services fixture did not start " << name;
    }
    stack_ = new Stack(*stack);
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  inline static Stack* stack_ = nullptr;
};

}  // namespace meldpunt::testing
