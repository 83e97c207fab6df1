// Tier 3: TLS on a Samplan server, as partner systems and the gateway meet it —
// the identity service over a real PostgreSQL, served by GrpcServer with the
// settings a process reads (common/config.h TlsFiles) and reached through the one
// channel factory (common/channel.h). Certificates are made by the `openssl` CLI
// in the test: a CA, a server certificate for localhost, client certificates that
// are good, from another CA, and expired.
//
// What a user would notice: a client without the CA or with a bad client
// certificate gets nothing; a renewed certificate is served without a restart;
// and on the wire, between client and server, neither a personnummer nor a
// bearer token can be read — while the same call in plaintext shows both.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/channel.h"
#include "common/server.h"
#include "services/identity/identity_service.h"
#include "services/identity/pg_identity_repository.h"
#include "tests/support/identity_stack.h"
#include "tests/support/suite.h"

namespace samplan {
namespace {

namespace v1 = ::samplan::identity::v1;
namespace fs = std::filesystem;
using testing::CallWithToken;

// Runs a shell command line; fails the test when it fails.
void Run(const std::string& command) {
  const std::string line = absl::StrCat(command, " >/dev/null 2>&1");
  ASSERT_EQ(std::system(line.c_str()), 0) << command;
}

// A folder of certificates made with the openssl CLI.
class Certificates {
 public:
  explicit Certificates(fs::path dir) : dir_(std::move(dir)) {}
  fs::path operator[](const std::string& file) const { return dir_ / file; }

  // A self-signed CA `name`: name.pem, name.key.
  void MakeCa(const std::string& name) {
    Run(absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes",
                     " -days 2 -subj /CN=", name, " -keyout ", Path(name, "key"), " -out ",
                     Path(name, "pem"), " -addext basicConstraints=critical,CA:TRUE",
                     " -addext keyUsage=critical,keyCertSign,cRLSign"));
  }

  // A leaf `name` (common name `cn`) signed by CA `ca`, for a server on
  // localhost / 127.0.0.1 or for a client.
  void MakeLeaf(const std::string& name, const std::string& cn, const std::string& ca,
                bool server) {
    const std::string ext = Path(name, "ext");
    std::ofstream(ext) << (server ? "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                    "extendedKeyUsage=serverAuth\n"
                                  : "extendedKeyUsage=clientAuth\n");
    Run(absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=",
                     cn, " -keyout ", Path(name, "key"), " -out ", Path(name, "csr")));
    Run(absl::StrCat("openssl x509 -req -in ", Path(name, "csr"), " -CA ", Path(ca, "pem"),
                     " -CAkey ", Path(ca, "key"), " -CAcreateserial -days 2 -extfile ", ext,
                     " -out ", Path(name, "pem")));
  }

  // A client certificate `name` signed by `ca` that expired a long time ago:
  // `openssl ca` is the CLI that takes explicit validity dates.
  void MakeExpiredClient(const std::string& name, const std::string& ca) {
    const std::string config = Path("expired-ca", "cnf");
    std::ofstream(config) << "[ca]\ndefault_ca = test\n[test]\ndatabase = " << Path("index", "txt")
                          << "\nnew_certs_dir = " << dir_.string()
                          << "\nserial = " << Path("serial", "txt")
                          << "\ndefault_md = sha256\npolicy = any\n"
                             "[any]\ncommonName = supplied\n"
                             "[client]\nextendedKeyUsage = clientAuth\n";
    std::ofstream(Path("index", "txt"));
    std::ofstream(Path("serial", "txt")) << "1000\n";
    Run(absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=",
                     name, " -keyout ", Path(name, "key"), " -out ", Path(name, "csr")));
    Run(absl::StrCat("openssl ca -batch -config ", config, " -extensions client -cert ",
                     Path(ca, "pem"), " -keyfile ", Path(ca, "key"), " -in ", Path(name, "csr"),
                     " -out ", Path(name, "pem"),
                     " -startdate 20200101000000Z -enddate 20200201000000Z -notext"));
  }

  std::string Path(const std::string& name, const std::string& extension) const {
    return (dir_ / absl::StrCat(name, ".", extension)).string();
  }

 private:
  fs::path dir_;
};

// A TCP proxy on a loopback port that forwards to `upstream_port` and records
// every byte it passes, both ways: what someone on the network path would see.
class CapturingProxy {
 public:
  explicit CapturingProxy(int upstream_port) : upstream_port_(upstream_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listener_, 16);
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~CapturingProxy() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    acceptor_.join();
    for (std::thread& pump : pumps_) pump.join();
  }

  int port() const { return port_; }
  std::string captured() {
    absl::MutexLock lock(&mu_);
    return captured_;
  }

 private:
  void Accept() {
    while (!stopping_) {
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<uint16_t>(upstream_port_));
      if (connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        close(client);
        close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Copies both ways until either side closes or the proxy stops.
  void Pump(int client, int server) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buffer[16384];
    while (!stopping_) {
      if (poll(fds, 2, 100) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n <= 0) {
          closed = true;
          break;
        }
        {
          absl::MutexLock lock(&mu_);
          captured_.append(buffer, static_cast<size_t>(n));
        }
        const int to = i == 0 ? server : client;
        for (ssize_t sent = 0; sent < n;) {
          const ssize_t w = write(to, buffer + sent, static_cast<size_t>(n - sent));
          if (w <= 0) {
            closed = true;
            break;
          }
          sent += w;
        }
      }
      if (closed) break;
    }
    close(client);
    close(server);
  }

  const int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // touched by the acceptor only, then by the destructor
  absl::Mutex mu_;
  std::string captured_ ABSL_GUARDED_BY(mu_);
};

class TlsTest : public testing::ServersSuite {
 protected:
  static void SetUpTestSuite() {
    ServersSuite::SetUpTestSuite();
    char pattern[] = "/tmp/samplan-tls-test.XXXXXX";
    dir_ = new fs::path(mkdtemp(pattern));
    Certificates certs(*dir_);
    certs.MakeCa("ca");
    certs.MakeCa("other-ca");
    certs.MakeLeaf("server", "first", "ca", /*server=*/true);
    certs.MakeLeaf("renewed", "renewed", "ca", /*server=*/true);
    certs.MakeLeaf("client", "partner", "ca", /*server=*/false);
    certs.MakeLeaf("stranger", "partner", "other-ca", /*server=*/false);
    certs.MakeExpiredClient("expired", "ca");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    ServersSuite::TearDownTestSuite();
  }

  void SetUp() override {
    ASSERT_FALSE(HasFailure()) << "the test certificates could not be made";
    auto dsn = pg_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    ASSERT_TRUE(testing::InProcessIdentity::ApplyIdentityMigrations(*dsn).ok());
    const testing::IdentityKeys keys = testing::IdentityKeys::Generate();
    auto protector = identity::MakeIdentityNumberProtector(keys.encryption_key_base64,
                                                           keys.lookup_key_base64);
    ASSERT_TRUE(protector.ok()) << protector.status();
    protector_ = std::make_unique<identity::IdentityNumberProtector>(*std::move(protector));
    auto pool = PgPool::Create({*dsn, 4, absl::Seconds(10), "test",
                                identity::IdentityRepositoryStatements(outbox_)});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    repository_ = std::make_unique<identity::PgIdentityRepository>(*pool_, outbox_);
    auto verifier = MakeTokenVerifier(keys_->VerifierOptions());
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = *std::move(verifier);
    calls_ = std::make_unique<CallHandler>(*verifier_, absl::Seconds(10), RealClock(),
                                           std::vector<std::string>{});
  }

  void TearDown() override {
    servers_.clear();
    services_.clear();
  }

  // The server's TLS settings as a process reads them, over copies of the
  // suite's files (a test may replace them).
  TlsFiles ServerTls(bool require_client_cert) {
    const fs::path own = *dir_ / absl::StrCat("served-", servers_.size());
    fs::create_directories(own);
    fs::copy_file(*dir_ / "server.pem", own / "cert.pem", fs::copy_options::overwrite_existing);
    fs::copy_file(*dir_ / "server.key", own / "key.pem", fs::copy_options::overwrite_existing);
    TlsFiles tls;
    tls.cert_file = own / "cert.pem";
    tls.key_file = own / "key.pem";
    tls.ca_file = *dir_ / "ca.pem";
    tls.require_client_cert = require_client_cert;
    tls.reload_interval = absl::Seconds(1);
    return tls;
  }

  // Starts identity over the suite's database with `tls` (none: plaintext) and
  // returns its port.
  int Serve(std::optional<TlsFiles> tls, const std::string& health_address = "") {
    services_.push_back(
        std::make_unique<identity::IdentityService>(*repository_, *protector_, *calls_));
    ServerConfig config{"127.0.0.1:0", absl::Seconds(10), absl::ZeroDuration(),
                        absl::Seconds(1), ""};
    config.tls = std::move(tls);
    config.health_address = health_address;
    auto server = GrpcServer::Start(config, {services_.back().get()});
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return 0;
    servers_.push_back(*std::move(server));
    return servers_.back()->port();
  }

  // A client's settings: the CA `ca` ("" for none: the system's roots) and the
  // client certificate `client` ("" for none).
  static TlsFiles ClientTls(const std::string& ca, const std::string& client = "") {
    TlsFiles tls;
    if (!ca.empty()) tls.ca_file = *dir_ / absl::StrCat(ca, ".pem");
    if (!client.empty()) {
      tls.cert_file = *dir_ / absl::StrCat(client, ".pem");
      tls.key_file = *dir_ / absl::StrCat(client, ".key");
    }
    tls.reload_interval = absl::Seconds(1);
    return tls;
  }

  // Each channel its own connection, so that a new channel makes a new handshake.
  static std::shared_ptr<grpc::Channel> Channel(int port, const std::optional<TlsFiles>& tls) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return MakeChannel(absl::StrCat("localhost:", port), tls, arguments);
  }

  // Calls ListOrganizations (a plain read that needs a valid token) and returns
  // its status; `common_name` gets the server certificate's common name.
  grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel,
                    std::string* common_name = nullptr) {
    auto stub = v1::IdentityService::NewStub(channel);
    auto context = CallWithToken(keys_->Token("soc"), absl::Seconds(5));
    v1::ListOrganizationsRequest request;
    v1::ListOrganizationsResponse response;
    grpc::Status status = stub->ListOrganizations(context.get(), request, &response);
    if (common_name != nullptr && status.ok() && context->auth_context() != nullptr) {
      for (const grpc::string_ref& value :
           context->auth_context()->FindPropertyValues("x509_common_name")) {
        *common_name = std::string(value.data(), value.size());
      }
    }
    return status;
  }

  static fs::path* dir_;
  Outbox outbox_{identity::kSchema};
  std::unique_ptr<identity::IdentityNumberProtector> protector_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<identity::PgIdentityRepository> repository_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<CallHandler> calls_;
  std::vector<std::unique_ptr<identity::IdentityService>> services_;
  std::vector<std::unique_ptr<GrpcServer>> servers_;
};

fs::path* TlsTest::dir_ = nullptr;

// Returns the serving status grpc.health.v1.Health/Check gives the server as a
// whole (1 SERVING, 2 NOT_SERVING), or -1 when it does not answer.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request(nullptr, 0), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) { done.set_value(status); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

EnvReader ReaderOf(std::map<std::string, std::string> values) {
  return EnvReader([values](absl::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  });
}

TEST(TlsConfigTest, PlaintextOnlyWhenASettingSaysSo) {
  // Nothing set: a server refuses to start, naming what is missing.
  EnvReader nothing = ReaderOf({});
  ReadTlsConfig(nothing, /*serves=*/true);
  EXPECT_TRUE(absl::StrContains(nothing.Finish().message(), "SAMPLAN_TLS_CERT_FILE"));
  EXPECT_TRUE(absl::StrContains(nothing.Finish().message(), "SAMPLAN_TLS_KEY_FILE"));
  EnvReader client = ReaderOf({});
  ReadTlsConfig(client, /*serves=*/false);
  EXPECT_TRUE(absl::StrContains(client.Finish().message(), "SAMPLAN_TLS_CA_FILE"));

  EnvReader plaintext = ReaderOf({{"SAMPLAN_PLAINTEXT", "true"}});
  EXPECT_FALSE(ReadTlsConfig(plaintext, /*serves=*/true).has_value());
  EXPECT_TRUE(plaintext.Finish().ok());

  // Asking for both is a mistake, not a choice.
  EnvReader both = ReaderOf({{"SAMPLAN_PLAINTEXT", "true"}, {"SAMPLAN_TLS_CA_FILE", "/ca.pem"}});
  ReadTlsConfig(both, /*serves=*/false);
  EXPECT_FALSE(both.Finish().ok());
}

TEST(TlsConfigTest, MissingFilesAndAClientCaAreNamedAtStart) {
  EnvReader env = ReaderOf({{"SAMPLAN_TLS_CERT_FILE", "/nonexistent/cert.pem"},
                            {"SAMPLAN_TLS_KEY_FILE", "/nonexistent/key.pem"},
                            {"SAMPLAN_TLS_REQUIRE_CLIENT_CERT", "true"}});
  std::optional<TlsFiles> tls = ReadTlsConfig(env, /*serves=*/true);
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->require_client_cert);
  const std::string problems(env.Finish().message());
  EXPECT_TRUE(absl::StrContains(problems, "cannot read /nonexistent/cert.pem")) << problems;
  EXPECT_TRUE(absl::StrContains(problems, "cannot read /nonexistent/key.pem")) << problems;
  EXPECT_TRUE(absl::StrContains(problems, "SAMPLAN_TLS_CA_FILE is required with")) << problems;
}

TEST_F(TlsTest, OnlyAClientThatTrustsTheCaGetsAnAnswer) {
  const int port = Serve(ServerTls(/*require_client_cert=*/false));
  ASSERT_NE(port, 0);
  EXPECT_TRUE(Call(Channel(port, ClientTls("ca"))).ok());
  // Plaintext to a TLS port, the system's roots, or another CA: no answer.
  EXPECT_EQ(Call(Channel(port, std::nullopt)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(grpc::CreateChannel(absl::StrCat("localhost:", port),
                                     grpc::SslCredentials(grpc::SslCredentialsOptions())))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(Channel(port, ClientTls("other-ca"))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRefusesMissingUntrustedAndExpiredClientCertificates) {
  const int port = Serve(ServerTls(/*require_client_cert=*/true));
  ASSERT_NE(port, 0);
  EXPECT_TRUE(Call(Channel(port, ClientTls("ca", "client"))).ok());
  EXPECT_EQ(Call(Channel(port, ClientTls("ca"))).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(Channel(port, ClientTls("ca", "stranger"))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(Channel(port, ClientTls("ca", "expired"))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ProbesThatCannotSpeakTlsGetHealthAndNothingElse) {
  const int port = Serve(ServerTls(/*require_client_cert=*/true), "127.0.0.1:0");
  ASSERT_NE(port, 0);
  const int health_port = servers_.back()->health_port();
  ASSERT_NE(health_port, 0);
  auto channel = MakeChannel(absl::StrCat("127.0.0.1:", health_port), std::nullopt);
  EXPECT_EQ(HealthStatus(channel), 1);
  // The service itself is not on that port.
  EXPECT_EQ(Call(channel).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(TlsTest, ARenewedCertificateIsServedToNewConnectionsWithoutARestart) {
  const TlsFiles tls = ServerTls(/*require_client_cert=*/false);
  const int port = Serve(tls);
  ASSERT_NE(port, 0);
  std::string served;
  ASSERT_TRUE(Call(Channel(port, ClientTls("ca")), &served).ok());
  EXPECT_EQ(served, "first");

  // Replaced as a certificate manager does it: each file whole, by rename.
  fs::copy_file(*dir_ / "renewed.key", tls.key_file + ".new");
  fs::copy_file(*dir_ / "renewed.pem", tls.cert_file + ".new");
  fs::rename(tls.key_file + ".new", tls.key_file);
  fs::rename(tls.cert_file + ".new", tls.cert_file);
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (served != "renewed" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_TRUE(Call(Channel(port, ClientTls("ca")), &served).ok());
  }
  EXPECT_EQ(served, "renewed");
}

TEST_F(TlsTest, NoPersonnummerOrTokenOnTheWireUnderTls) {
  // The same lookup through a capturing proxy to a TLS server and to a
  // plaintext one; the plaintext capture proves the check can see them.
  const int tls_port = Serve(ServerTls(/*require_client_cert=*/true));
  const int plain_port = Serve(std::nullopt);
  ASSERT_NE(tls_port, 0);
  ASSERT_NE(plain_port, 0);
  auto setup = v1::IdentityService::NewStub(Channel(tls_port, ClientTls("ca", "client")));
  const std::string admin = keys_->Token("kommunen", "administrator");
  ASSERT_TRUE(testing::EnsureMunicipality(*setup, admin, "1885").ok());
  ASSERT_TRUE(testing::EnsureOrganization(*setup, admin, "soc",
                                          v1::ORGANIZATION_KIND_SOCIAL_SERVICES)
                  .ok());
  const std::string number = testing::TestPersonnummer(absl::CivilDay(1985, 3, 14), 321);
  const std::string token = keys_->Token("soc");
  ASSERT_TRUE(testing::CreateTestPerson(*setup, token, number).ok());

  auto lookup_through = [&](int port, const std::optional<TlsFiles>& tls) {
    CapturingProxy proxy(port);
    auto stub = v1::IdentityService::NewStub(Channel(proxy.port(), tls));
    v1::LookupPersonRequest request;
    request.set_identity_number(number);
    request.set_purpose("coordination");
    v1::Person person;
    const grpc::Status status =
        stub->LookupPerson(CallWithToken(token, absl::Seconds(5)).get(), request, &person);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return proxy.captured();
  };
  const std::string encrypted = lookup_through(tls_port, ClientTls("ca", "client"));
  const std::string plain = lookup_through(plain_port, std::nullopt);
  // The ten-digit form is the tail of the twelve-digit one, so this covers both.
  const std::string ten_digits = number.substr(2);
  ASSERT_TRUE(absl::StrContains(plain, ten_digits)) << "the capture cannot see the number";
  ASSERT_TRUE(absl::StrContains(plain, token)) << "the capture cannot see the token";
  EXPECT_GT(encrypted.size(), 1000u) << "nothing passed the proxy";
  EXPECT_FALSE(absl::StrContains(encrypted, ten_digits));
  EXPECT_FALSE(absl::StrContains(encrypted, token));
  // Nor a recognisable part of the token: its signature alone.
  EXPECT_FALSE(absl::StrContains(encrypted, token.substr(token.rfind('.') + 1)));
}

}  // namespace
}  // namespace samplan
