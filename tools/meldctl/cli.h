// The command line of meldctl: the commands, their options, parsing and the help text. Pure: no
// gRPC, no I/O, so the tests check every command's options without a server.
//
//   absl::StatusOr<Options> options = Parse({"accept", "MP-7K3QX9M2TD4AB", "--assignee", "an"});
//   if (!options.ok()) { /* usage error: INVALID_ARGUMENT naming the option; exit 2 */ }
//   options->command;           // "accept"
//   options->Get("assignee");   // "an"
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace meldpunt::meldctl {

// What the user typed, checked against the command's options.
struct Options {
  std::string command;                        // "" with help: the general help
  std::vector<std::string> args;              // positional arguments after the command
  std::map<std::string, std::string> values;  // --name VALUE (or --name=VALUE), without "--"
  std::set<std::string> flags;                // --name
  bool help = false;                          // -h, --help

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool Flag(const std::string& name) const { return flags.count(name) > 0; }
};

enum class Group { kCases, kCaseWork, kReporter, kOperations, kOther };

struct CommandSpec {
  absl::string_view name;
  Group group;
  absl::string_view synopsis;  // what follows the name in the help, e.g. "CASE [--assignee A]"
  absl::string_view summary;   // one line
  int min_args = 0;            // positional arguments after the command
  int max_args = 0;
  std::vector<absl::string_view> options;   // options that take a value
  std::vector<absl::string_view> flags;     // options without a value
  std::vector<absl::string_view> required;  // value options that must be given, non-empty
};

// Every command, in the order of the help text.
const std::vector<CommandSpec>& Commands();
const CommandSpec* FindCommand(absl::string_view name);

// Options every command takes.
inline constexpr absl::string_view kGlobalOptions[] = {
    "intake",     "routing", "deadline", "notification", "timeout", "token",
    "token-file", "ca",      "cert",     "key",          "tls-name"};
inline constexpr absl::string_view kGlobalFlags[] = {"json"};

// The actor a command acts as when --actor is not given.
inline constexpr char kCaseWorkActor[] = "team:meldpunt";
inline constexpr char kReporterActor[] = "reporter";

// The full help text, and the help of one command.
std::string Usage();
std::string CommandUsage(const CommandSpec& spec);

// Parses the arguments after the program name. INVALID_ARGUMENT (a usage error) for an unknown
// command or option, an option given twice, a missing value, a missing required option, or a
// wrong number of positional arguments. With -h/--help, only the command is looked up.
absl::StatusOr<Options> Parse(const std::vector<std::string>& args);

// A usage error: INVALID_ARGUMENT with `message`.
absl::Status UsageError(absl::string_view message);

// The value of an enum option: the value's name, case-insensitive, '-' for '_' ("partly-founded"
// is PARTLY_FOUNDED). The zero ("..._UNSPECIFIED") value is never accepted. The error names the
// option and lists the accepted values.
absl::StatusOr<int> ParseEnumOption(absl::string_view option, absl::string_view text,
                                    const google::protobuf::EnumDescriptor* descriptor);

// The accepted names of an enum, comma separated, without the zero value.
std::string EnumNames(const google::protobuf::EnumDescriptor* descriptor);

// An RFC 3339 time ("2026-03-01T09:30:00Z", "2026-03-01T09:30:00+01:00") or a date
// ("2026-03-01", midnight UTC). The error names the option.
absl::StatusOr<absl::Time> ParseTimeOption(absl::string_view option, absl::string_view text);

// A whole number in [min, max]. The error names the option.
absl::StatusOr<int64_t> ParseIntOption(absl::string_view option, absl::string_view text,
                                       int64_t min, int64_t max);

}  // namespace meldpunt::meldctl
