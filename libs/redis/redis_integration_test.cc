// The Redis wrapper against a real redis-server started by the CTest fixture.
#include "libs/redis/redis.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/match.h"
#include "libs/status/retry.h"
#include "tests/testing/stack.h"

namespace meldpunt::redis {
namespace {

constexpr char kIncrByLua[] = R"(
  local v = redis.call('INCRBY', KEYS[1], ARGV[1])
  return v
)";

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto stack = testing::LoadStack();
    ASSERT_TRUE(stack.ok()) << stack.status();
    options_.address = stack->redis;
    options_.scripts = {{"incrby", kIncrByLua}};
    options_.pool_size = 2;
    prefix_ = testing::UniqueName("redis-test");
  }
  Options options_;
  std::string prefix_;
};

TEST_F(RedisTest, CommandsAndReplyTypes) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  auto set = (*client)->Command({"SET", prefix_ + ":a", std::string("bin\0ary", 7)});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  auto get = (*client)->Command({"GET", prefix_ + ":a"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, std::string("bin\0ary", 7));
  auto missing = (*client)->Command({"GET", prefix_ + ":missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
  auto error = (*client)->Command({"INCR", prefix_ + ":a"});
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(error->type, Reply::Type::kError);
  EXPECT_EQ(ReplyStatus(*error).code(), absl::StatusCode::kInternal);
}

TEST_F(RedisTest, PipelineKeepsOrder) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 100; ++i) commands.push_back({"RPUSH", prefix_ + ":list", std::to_string(i)});
  commands.push_back({"LRANGE", prefix_ + ":list", "0", "-1"});
  auto replies = (*client)->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 101u);
  EXPECT_EQ((*replies)[99].integer, 100);
  ASSERT_EQ(replies->back().elements.size(), 100u);
  EXPECT_EQ(replies->back().elements[42].str, "42");
}

// A pipeline of several megabytes (a replay's run in one transaction) is written out as it is
// appended, and every command arrives whole and in order.
TEST_F(RedisTest, APipelineOfMegabytesArrivesWholeAndInOrder) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  std::vector<std::vector<std::string>> commands = {{"MULTI"}};
  for (int i = 0; i < 40; ++i) {
    commands.push_back({"SET", prefix_ + ":big:" + std::to_string(i),
                        std::string(128 * 1024, static_cast<char>('a' + i % 26))});
  }
  commands.push_back({"EXEC"});
  for (int i = 0; i < 40; i += 13)
    commands.push_back({"GET", prefix_ + ":big:" + std::to_string(i)});
  auto replies = (*client)->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 42u + 4u);
  ASSERT_EQ((*replies)[41].elements.size(), 40u) << "EXEC ran every SET";
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ((*replies)[42 + k].str,
              std::string(128 * 1024, static_cast<char>('a' + 13 * k % 26)));
  }
}

// The commands are written in the protocol's form by this library: a word of any bytes, the
// protocol's own among them, or of none, arrives as it is, in commands and in script calls.
TEST_F(RedisTest, WordsOfAnyBytesArriveAsTheyAre) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  const std::vector<std::string> values = {"",
                                           "\r\n",
                                           "$5\r\nhello\r\n",
                                           "*2\r\n$3\r\nGET\r\n",
                                           " spaced out ",
                                           std::string("\0\r\0", 3),
                                           std::string(1000, '\n'),
                                           std::string(70000, 'x')};
  std::vector<std::vector<std::string>> commands;
  for (size_t i = 0; i < values.size(); ++i) {
    commands.push_back({"SET", prefix_ + ":word " + std::to_string(i), values[i]});
  }
  for (size_t i = 0; i < values.size(); ++i) {
    commands.push_back({"GET", prefix_ + ":word " + std::to_string(i)});
  }
  auto replies = (*client)->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 2 * values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ((*replies)[i].str, "OK") << i;
    EXPECT_EQ((*replies)[values.size() + i].str, values[i]) << i;
  }
  // A script call's keys and arguments: the script adds the argument's length.
  auto counted = (*client)->Scripts(
      {{"incrby", {prefix_ + ":len\r\n"}, {"12"}}, {"incrby", {prefix_ + ":len\r\n"}, {"-2"}}});
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ((*counted)[1].integer, 10);
  EXPECT_EQ((*client)->Command({"GET", prefix_ + ":len\r\n"})->str, "10");
}

// Every shape of reply, nested in a transaction's reply, with nils, an empty array and an error
// among its elements.
TEST_F(RedisTest, RepliesOfEveryShapeNestedInATransaction) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  auto replies = (*client)->Pipeline({{"MULTI"},
                                      {"HSET", prefix_ + ":h", "a", "1", "c", ""},
                                      {"HMGET", prefix_ + ":h", "a", "b", "c"},
                                      {"LRANGE", prefix_ + ":empty", "0", "-1"},
                                      {"INCR", prefix_ + ":h"},
                                      {"GET", prefix_ + ":missing"},
                                      {"EXEC"},
                                      {"PING"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 8u);
  EXPECT_EQ((*replies)[1].type, Reply::Type::kStatus);
  EXPECT_EQ((*replies)[1].str, "QUEUED");
  const Reply& exec = (*replies)[6];
  ASSERT_EQ(exec.type, Reply::Type::kArray);
  ASSERT_EQ(exec.elements.size(), 5u);
  EXPECT_EQ(exec.elements[0].type, Reply::Type::kInteger);
  EXPECT_EQ(exec.elements[0].integer, 2);
  const Reply& fields = exec.elements[1];
  ASSERT_EQ(fields.type, Reply::Type::kArray);
  ASSERT_EQ(fields.elements.size(), 3u);
  EXPECT_EQ(fields.elements[0].type, Reply::Type::kString);
  EXPECT_EQ(fields.elements[0].str, "1");
  EXPECT_TRUE(fields.elements[1].is_nil());
  EXPECT_EQ(fields.elements[2].type, Reply::Type::kString);
  EXPECT_EQ(fields.elements[2].str, "");
  EXPECT_EQ(exec.elements[2].type, Reply::Type::kArray);
  EXPECT_TRUE(exec.elements[2].elements.empty());
  EXPECT_EQ(exec.elements[3].type, Reply::Type::kError);
  EXPECT_TRUE(absl::StartsWith(exec.elements[3].str, "WRONGTYPE")) << exec.elements[3].str;
  EXPECT_TRUE(exec.elements[4].is_nil());
  EXPECT_EQ((*replies)[7].str, "PONG");
}

TEST_F(RedisTest, ScriptsSurviveScriptFlush) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  auto first = (*client)->Script("incrby", {prefix_ + ":n"}, {"5"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->integer, 5);
  ASSERT_TRUE((*client)->Command({"SCRIPT", "FLUSH"}).ok());
  // Both pooled connections lost their script: each must reload it and go on.
  for (int i = 0; i < 2; ++i) {
    auto again = (*client)->Script("incrby", {prefix_ + ":n"}, {"1"});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->type, Reply::Type::kInteger);
  }
  auto value = (*client)->Command({"GET", prefix_ + ":n"});
  EXPECT_EQ(value->str, "7");
  auto unknown = (*client)->Script("nope", {}, {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisTest, ManyScriptCallsInOneRoundTripSurviveScriptFlush) {
  Options options = options_;
  options.pool_size = 1;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  std::vector<ScriptCall> calls;
  for (int i = 0; i < 10; ++i) calls.push_back({"incrby", {prefix_ + ":many"}, {"1"}});
  auto replies = (*client)->Scripts(calls);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 10u);
  EXPECT_EQ((*replies)[9].integer, 10);
  ASSERT_TRUE((*client)->Command({"SCRIPT", "FLUSH"}).ok());
  // NOSCRIPT for all of them: loaded again and every call repeated (scripts safe to repeat).
  replies = (*client)->Scripts({{"incrby", {prefix_ + ":many"}, {"5"}}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  EXPECT_EQ((*replies)[0].integer, 15);
  EXPECT_EQ((*client)->Scripts({{"nope", {}, {}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisTest, ReconnectsAfterTheServerDroppedTheConnection) {
  auto connection = Connection::Connect(options_);
  ASSERT_TRUE(connection.ok());
  auto id = (*connection)->Command({"CLIENT", "ID"});
  ASSERT_TRUE(id.ok());
  auto other = Connection::Connect(options_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Command({"CLIENT", "KILL", "ID", std::to_string(id->integer)}).ok());
  auto after = (*connection)->Command({"PING"});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->str, "PONG");
}

TEST_F(RedisTest, ConcurrentUseOfThePool) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) ASSERT_TRUE((*client)->Command({"INCR", prefix_ + ":c"}).ok());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ((*client)->Command({"GET", prefix_ + ":c"})->str, "800");
}

TEST_F(RedisTest, DeleteMatchingRemovesOnlyMatchingKeys) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 1200; ++i)
    sets.push_back({"SET", prefix_ + ":gone:" + std::to_string(i), "x"});
  sets.push_back({"SET", prefix_ + ":kept", "y"});
  ASSERT_TRUE((*client)->Pipeline(sets).ok());
  auto removed = DeleteMatching(**client, prefix_ + ":gone:*");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1200);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":kept"})->integer, 1);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":gone:7"})->integer, 0);
}

TEST_F(RedisTest, DeleteMatchingTakesSeveralPatternsInOnePass) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok());
  std::vector<std::vector<std::string>> sets;
  for (int i = 0; i < 6000; ++i) {
    sets.push_back({"SET", prefix_ + ":case:{" + std::to_string(i) + "}", "x"});
    if (i % 10 == 0) sets.push_back({"SET", prefix_ + ":ref:" + std::to_string(i), "x"});
  }
  sets.push_back({"SET", prefix_ + ":cases", "index"});
  sets.push_back({"SET", prefix_ + ":casework", "kept"});
  sets.push_back({"SET", prefix_ + ":reference", "kept"});
  ASSERT_TRUE((*client)->Pipeline(sets).ok());
  auto removed = DeleteMatching(
      **client,
      std::vector<std::string>{prefix_ + ":case:*", prefix_ + ":ref:*", prefix_ + ":cases"});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 6000 + 600 + 1);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":casework"})->integer, 1);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":reference"})->integer, 1);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":case:{5999}"})->integer, 0);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":ref:10"})->integer, 0);
  EXPECT_EQ((*client)->Command({"EXISTS", prefix_ + ":cases"})->integer, 0);
  // Nothing left to remove: 0, and no error.
  removed =
      DeleteMatching(**client, std::vector<std::string>{prefix_ + ":case:*", prefix_ + ":cases"});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
}

TEST_F(RedisTest, UnreachableServerIsUnavailable) {
  Options options = options_;
  options.address = "127.0.0.1:" + std::to_string(testing::ClosedPort());
  auto client = Client::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
  options.address = "nonsense";
  EXPECT_EQ(Client::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  // Redis down is an outage: a consume loop retries the same record for as long as it lasts.
  EXPECT_EQ(status::RetryOf(
                Client::Create({.address = "127.0.0.1:" + std::to_string(testing::ClosedPort())})
                    .status()),
            status::Retry::kInPlace);
}

TEST_F(RedisTest, AnErrorReplySaysWhetherToRetry) {
  auto client = Client::Create(options_);
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string key = testing::UniqueName("mp:test:wrongtype");
  ASSERT_TRUE((*client)->Command({"SET", key, "x"}).ok());
  // The answer to this command, the same every time: give up on the record.
  absl::StatusOr<Reply> wrong = (*client)->Command({"LPUSH", key, "y"});
  ASSERT_TRUE(wrong.ok());
  absl::Status refused = ReplyStatus(*wrong);
  EXPECT_EQ(status::RetryOf(refused), status::Retry::kGiveUp) << refused;
  EXPECT_NE(refused.message().find("WRONGTYPE"), absl::string_view::npos);
  (void)(*client)->Command({"DEL", key});
  // A server that cannot serve anyone now: an outage, retried in place.
  for (const char* text : {"LOADING Redis is loading the dataset in memory",
                           "OOM command not allowed when used memory > 'maxmemory'",
                           "READONLY You can't write against a read only replica.",
                           "MASTERDOWN Link with MASTER is down"}) {
    Reply reply;
    reply.type = Reply::Type::kError;
    reply.str = text;
    EXPECT_EQ(status::RetryOf(ReplyStatus(reply)), status::Retry::kInPlace) << text;
  }
}

}  // namespace
}  // namespace meldpunt::redis
