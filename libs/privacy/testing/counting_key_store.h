// A key store in memory that counts the calls a Redis one would answer with a round trip each:
// for tests of code that should read a batch's keys at once (BatchKeys, FindAll, KeysFor).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "libs/privacy/privacy.h"

namespace meldpunt::privacy::testing {

class CountingKeyStore final : public KeyStore {
 public:
  absl::StatusOr<std::string> KeyFor(const std::string& case_id) override {
    ++key_for;
    return keys.KeyFor(case_id);
  }
  absl::StatusOr<std::string> Find(const std::string& case_id) override {
    ++find;
    return keys.Find(case_id);
  }
  absl::StatusOr<bool> Destroy(const std::string& case_id) override {
    ++destroy;
    return keys.Destroy(case_id);
  }
  // One round trip, as RedisKeyStore's pipeline (not one Find per case).
  absl::StatusOr<std::map<std::string, std::string>> FindAll(
      const std::vector<std::string>& case_ids) override {
    ++find_all;
    return keys.FindAll(case_ids);
  }
  // One round trip, as RedisKeyStore's pipeline (not one KeyFor per case).
  std::vector<absl::StatusOr<std::string>> KeysFor(
      const std::vector<std::string>& case_ids) override {
    ++keys_for;
    return keys.KeysFor(case_ids);
  }
  int round_trips() const { return key_for + find + destroy + find_all + keys_for; }

  MemoryKeyStore keys;  // behind it; calls on it directly are not counted
  int key_for = 0;
  int find = 0;
  int destroy = 0;
  int find_all = 0;
  int keys_for = 0;
};

}  // namespace meldpunt::privacy::testing
