// samplan-token: mints ES256 bearer tokens and key pairs for local runs.
//
//   samplan-token --key dev.key --org organizations/o1 --municipality 0180
//       --user users/u1 [--roles a,b] [--kid dev] [--issuer samplan-dev]
//       [--audience samplan] [--ttl 3600]
//   samplan-token --generate-key PRIVATE_OUT PUBLIC_OUT

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/files.h"
#include "common/auth.h"
#include "common/ids.h"

namespace samplan {
namespace {

constexpr int kUsageError = 2;

constexpr char kUsage[] =
    R"(Usage:
  samplan-token --key PATH --org organizations/ID --municipality NNNN
                --user users/ID [--roles a,b,c] [--kid KID] [--issuer ISS]
                [--audience AUD] [--ttl SECONDS]
      Prints an ES256 token signed by the private key in PATH.
      Defaults: --kid dev, --issuer samplan-dev, --audience samplan, --ttl 3600.
  samplan-token --generate-key PRIVATE_OUT PUBLIC_OUT
      Writes a fresh P-256 key pair (PKCS#8 private key, mode 0600; public key
      as SubjectPublicKeyInfo PEM).
  samplan-token --help
)";

int UsageError(std::string_view message) {
  std::cerr << "samplan-token: " << message << "\n"
            << "Run samplan-token --help for usage.\n";
  return kUsageError;
}


int GenerateKey(const std::vector<std::string_view>& args) {
  if (args.size() != 2 || args[0].empty() || args[1].empty() ||
      args[0].starts_with("--") || args[1].starts_with("--")) {
    return UsageError("--generate-key needs PRIVATE_OUT and PUBLIC_OUT");
  }
  absl::StatusOr<KeyPairPem> pair = GenerateEs256KeyPair();
  if (!pair.ok()) {
    std::cerr << "samplan-token: " << pair.status().message() << "\n";
    return 1;
  }
  for (auto [path, contents, mode] :
       {std::tuple(std::string(args[0]), pair->private_key_pem, mode_t{0600}),
        std::tuple(std::string(args[1]), pair->public_key_pem, mode_t{0644})}) {
    if (absl::Status status = tools::WriteFileWithMode(path, contents, mode); !status.ok()) {
      std::cerr << "samplan-token: " << status.message() << "\n";
      return 1;
    }
  }
  return 0;
}

int Mint(const std::vector<std::string_view>& args) {
  std::map<std::string_view, std::string> flags = {
      {"--key", ""},
      {"--kid", "dev"},
      {"--issuer", "samplan-dev"},
      {"--audience", "samplan"},
      {"--org", ""},
      {"--municipality", ""},
      {"--user", ""},
      {"--roles", ""},
      {"--ttl", "3600"},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::string value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    } else if (flags.contains(name)) {
      if (i + 1 >= args.size()) {
        return UsageError(std::string(name) + " needs a value");
      }
      value = std::string(args[++i]);
    }
    auto it = flags.find(name);
    if (it == flags.end()) {
      return UsageError("unknown argument " + std::string(name));
    }
    it->second = std::move(value);
  }

  for (std::string_view required : {"--key", "--org", "--municipality", "--user"}) {
    if (flags[required].empty()) {
      return UsageError(std::string(required) + " is required");
    }
  }
  for (std::string_view nonempty : {"--kid", "--issuer", "--audience"}) {
    if (flags[nonempty].empty()) {
      return UsageError(std::string(nonempty) + " must not be empty");
    }
  }
  if (!IsResourceName(flags["--org"], "organizations")) {
    return UsageError("--org must be organizations/{id}");
  }
  if (!IsResourceName(flags["--user"], "users")) {
    return UsageError("--user must be users/{id}");
  }
  if (!IsMunicipalityCode(flags["--municipality"])) {
    return UsageError("--municipality must be four digits");
  }
  int64_t ttl = 0;
  if (!absl::SimpleAtoi(flags["--ttl"], &ttl) || ttl <= 0) {
    return UsageError("--ttl must be a positive number of seconds");
  }
  std::vector<std::string> roles;
  if (!flags["--roles"].empty()) {
    roles = absl::StrSplit(flags["--roles"], ',');
    for (const std::string& role : roles) {
      if (role.empty()) return UsageError("--roles has an empty role");
    }
  }

  std::ifstream in(flags["--key"]);
  std::stringstream key;
  key << in.rdbuf();
  if (!in) {
    std::cerr << "samplan-token: cannot read --key " << flags["--key"] << "\n";
    return 1;
  }

  TokenClaims claims;
  claims.issuer = flags["--issuer"];
  claims.audience = flags["--audience"];
  claims.subject = flags["--user"];
  claims.organization = flags["--org"];
  claims.municipality = flags["--municipality"];
  claims.roles = std::move(roles);
  claims.issued_at = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  claims.expires_at = claims.issued_at + absl::Seconds(ttl);
  absl::StatusOr<std::string> token = MintToken(key.str(), flags["--kid"], claims);
  if (!token.ok()) {
    std::cerr << "samplan-token: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return std::cout.flush() ? 0 : 1;
}

}  // namespace
}  // namespace samplan

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << samplan::kUsage;
    return samplan::kUsageError;
  }
  for (std::string_view arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << samplan::kUsage;
      return 0;
    }
  }
  if (args[0] == "--generate-key") {
    return samplan::GenerateKey({args.begin() + 1, args.end()});
  }
  return samplan::Mint(args);
}
