// The key store against the real redis-server of the test stack: one key per case whoever asks
// first, wrapped under the master key, and destroyed for good.
#include <map>
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

TEST(RedisKeyStore, FindAllReadsTheKeysOfSeveralCasesAtOnce) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok()) << redis.status();
  RedisKeyStore keys(**redis, RandomBytes(kKeyBytes));
  const std::string a = testing::UniqueName("MP-ALL-A");
  const std::string b = testing::UniqueName("MP-ALL-B");
  const std::string erased = testing::UniqueName("MP-ALL-E");
  const std::string never = testing::UniqueName("MP-ALL-N");
  const std::string key_a = *keys.KeyFor(a);
  const std::string key_b = *keys.KeyFor(b);
  ASSERT_TRUE(keys.KeyFor(erased).ok());
  ASSERT_TRUE(*keys.Destroy(erased));
  absl::StatusOr<std::map<std::string, std::string>> found = keys.FindAll({a, erased, never, b, a});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, (std::map<std::string, std::string>{{a, key_a}, {b, key_b}}));
  EXPECT_TRUE(keys.FindAll({})->empty());
  // Under another master key a stored key does not unwrap: the whole read says so.
  RedisKeyStore other(**redis, RandomBytes(kKeyBytes));
  EXPECT_EQ(other.FindAll({a}).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RedisKeyStore, KeysForMakesTheKeysOfSeveralCasesAtOnce) {
  auto stack = testing::LoadStack();
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto redis = redis::Client::Create({.address = stack->redis});
  ASSERT_TRUE(redis.ok()) << redis.status();
  RedisKeyStore keys(**redis, RandomBytes(kKeyBytes));
  const std::string a = testing::UniqueName("MP-MAKE-A");
  const std::string b = testing::UniqueName("MP-MAKE-B");
  const std::string old = testing::UniqueName("MP-MAKE-O");
  const std::string erased = testing::UniqueName("MP-MAKE-E");
  const std::string key_old = *keys.KeyFor(old);
  ASSERT_TRUE(keys.KeyFor(erased).ok());
  ASSERT_TRUE(*keys.Destroy(erased));
  std::vector<absl::StatusOr<std::string>> made = keys.KeysFor({a, old, erased, b, a});
  ASSERT_EQ(made.size(), 5u);
  ASSERT_TRUE(made[0].ok()) << made[0].status();
  EXPECT_EQ(made[0]->size(), kKeyBytes);
  ASSERT_TRUE(made[1].ok()) << made[1].status();
  EXPECT_EQ(*made[1], key_old) << "a key made before stays the key";
  EXPECT_EQ(made[2].status().code(), absl::StatusCode::kFailedPrecondition)
      << "a destroyed key is never made again";
  ASSERT_TRUE(made[3].ok()) << made[3].status();
  EXPECT_NE(*made[3], *made[0]);
  ASSERT_TRUE(made[4].ok()) << made[4].status();
  EXPECT_EQ(*made[4], *made[0]) << "the same case twice: one key";
  EXPECT_EQ(*keys.Find(a), *made[0]);
  EXPECT_EQ(*keys.Find(b), *made[3]);
  EXPECT_TRUE(keys.KeysFor({}).empty());
}

}  // namespace
}  // namespace meldpunt::privacy
