// The key store against the real redis-server of the test stack: one key per case whoever asks
// first, wrapped under the master key, and destroyed for good.
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "libs/privacy/privacy.h"
#include "tests/testing/stack.h"

namespace meldpunt::privacy {
namespace {

TEST(RedisKeyStore, OneKeyPerCaseWrappedAndDestroyedForGood) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok()) << redis.status();
  const std::string master = RandomBytes(kKeyBytes);
  RedisKeyStore keys(**redis, master);
  const std::string case_id = testing::UniqueName("MP-KEYS");

  // Eight callers at once get one and the same key.
  std::vector<std::string> seen(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<std::string> key = keys.KeyFor(case_id);
      if (key.ok()) seen[i] = *key;
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& key : seen) EXPECT_EQ(key, seen[0]);
  ASSERT_EQ(seen[0].size(), kKeyBytes);
  EXPECT_EQ(*keys.Find(case_id), seen[0]);

  // Stored wrapped: the raw value is not the key, and another master key cannot unwrap it.
  auto raw = (*redis)->Command({"GET", RedisKeyStore::KeyName(case_id)});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->str.find(seen[0]), std::string::npos);
  RedisKeyStore other(**redis, RandomBytes(kKeyBytes));
  EXPECT_EQ(other.Find(case_id).status().code(), absl::StatusCode::kDataLoss);

  EXPECT_TRUE(*keys.Destroy(case_id));
  EXPECT_FALSE(*keys.Destroy(case_id));
  EXPECT_EQ(keys.Find(case_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(keys.KeyFor(case_id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(keys.Find(testing::UniqueName("MP-NEVER")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace meldpunt::privacy
