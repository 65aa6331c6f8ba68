// meldpunt-chaos: the chaos suite's load client and verifier (tools/chaos/chaos.py drives them).
//
//   meldpunt-chaos load --intake HOST:PORT --ledger FILE --key-prefix P [--rate N] [--seconds S]
//                       [--workers N] [--retry-seconds S] [--nearby]
//   meldpunt-chaos verify --stack STACK_JSON --ledger FILE [--ledger FILE...] [--settle S]
//                         [--fire-grace S] [--clocks a,b] [--allow-dead-letter]
//                         [--since-ms MS] [--injected FILE...] [--other-injected FILE...]
//                         [--undecodable-dead-letters service,service] [--duplicate-radius M]
//
// load prints a JSON summary; verify prints a JSON result and exits 0 when every case passed,
// 1 when not, 2 on bad usage.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tools/chaos/load.h"
#include "tools/chaos/verify.h"

namespace {

using meldpunt::chaos::LoadOptions;
using meldpunt::chaos::VerifyOptions;

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "meldpunt-chaos: %s\n"
               "usage: meldpunt-chaos load --intake HOST:PORT --ledger FILE --key-prefix P "
               "[--rate N] [--seconds S] [--workers N] [--retry-seconds S] [--nearby]\n"
               "       meldpunt-chaos verify --stack STACK_JSON --ledger FILE [--ledger FILE...] "
               "[--settle S] [--fire-grace S] [--clocks a,b] [--allow-dead-letter]\n"
               "                       [--since-ms MS] [--injected FILE...] "
               "[--other-injected FILE...] [--undecodable-dead-letters a,b]\n"
               "                       [--duplicate-radius M]\n",
               why.c_str());
  std::exit(2);
}

double Number(const std::string& flag, const std::string& text) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || value <= 0)
    Usage(flag + ": expected a positive number, got '" + text + "'");
  return value;
}

int Load(const std::multimap<std::string, std::string>& flags) {
  LoadOptions o;
  for (const auto& [flag, value] : flags) {
    if (flag == "--intake")
      o.intake = value;
    else if (flag == "--ledger")
      o.ledger = value;
    else if (flag == "--key-prefix")
      o.key_prefix = value;
    else if (flag == "--rate")
      o.rate = Number(flag, value);
    else if (flag == "--seconds")
      o.duration = absl::Seconds(Number(flag, value));
    else if (flag == "--workers")
      o.workers = static_cast<int>(Number(flag, value));
    else if (flag == "--retry-seconds")
      o.retry_for = absl::Seconds(Number(flag, value));
    else if (flag == "--nearby")
      o.nearby = true;
    else
      Usage("load: unknown flag " + flag);
  }
  if (o.intake.empty() || o.ledger.empty() || o.key_prefix.empty())
    Usage("load needs --intake, --ledger and --key-prefix");
  const auto s = meldpunt::chaos::RunLoad(o);
  nlohmann::json out = {
      {"attempted", s.attempted}, {"ok", s.ok},
      {"created", s.created},     {"repeated", s.repeated},
      {"rejected", s.rejected},   {"gave_up", s.gave_up},
      {"retries", s.retries},     {"read_your_write_misses", s.read_your_write_misses},
      {"errors", s.errors},       {"seconds", s.seconds}};
  std::cout << out.dump() << std::endl;
  return s.rejected == 0 ? 0 : 1;
}

int Verify(const std::multimap<std::string, std::string>& flags) {
  VerifyOptions o;
  std::string stack_path;
  for (const auto& [flag, value] : flags) {
    if (flag == "--stack")
      stack_path = value;
    else if (flag == "--ledger")
      o.ledgers.push_back(value);
    else if (flag == "--settle")
      o.settle = absl::Seconds(Number(flag, value));
    else if (flag == "--fire-grace")
      o.fire_grace = absl::Seconds(Number(flag, value));
    else if (flag == "--clocks")
      o.clocks = absl::StrSplit(value, ',', absl::SkipEmpty());
    else if (flag == "--allow-dead-letter")
      o.allow_dead_letter = true;
    else if (flag == "--since-ms")
      o.since_ms = static_cast<int64_t>(Number(flag, value));
    else if (flag == "--injected")
      o.injected.push_back(value);
    else if (flag == "--other-injected")
      o.other_injected.push_back(value);
    else if (flag == "--undecodable-dead-letters")
      o.undecodable_services = absl::StrSplit(value, ',', absl::SkipEmpty());
    else if (flag == "--duplicate-radius")
      o.duplicate_radius_m = Number(flag, value);
    else
      Usage("verify: unknown flag " + flag);
  }
  if (stack_path.empty() || o.ledgers.empty()) Usage("verify needs --stack and --ledger");
  std::ifstream in(stack_path);
  auto stack = nlohmann::json::parse(in, nullptr, false);
  if (stack.is_discarded()) Usage("--stack: cannot read " + stack_path);
  try {
    o.kafka = stack.at("kafka");
    o.smtp_dir = stack.at("smtp_dir");
    o.intake = stack.at("services").at("intake").at("grpc");
    o.deadline = stack.at("services").at("deadline_watch").at("grpc");
    o.notification = stack.at("services").at("notification").at("grpc");
  } catch (const nlohmann::json::exception& e) {
    Usage(std::string("--stack: ") + e.what());
  }
  const auto result = meldpunt::chaos::Verify(o);
  std::cout << result.ToJson().dump() << std::endl;
  return result.passed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage("no command");
  const std::string command = argv[1];
  std::multimap<std::string, std::string> flags;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0) Usage("unexpected argument " + flag);
    if (flag == "--allow-dead-letter" || flag == "--nearby") {
      flags.emplace(flag, "");
      continue;
    }
    if (i + 1 >= argc) Usage(flag + " needs a value");
    flags.emplace(flag, argv[++i]);
  }
  if (command == "load") return Load(flags);
  if (command == "verify") return Verify(flags);
  Usage("unknown command " + command);
}
