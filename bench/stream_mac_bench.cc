// Measures what the stream entries' MAC costs (common/stream_mac.h): the relay
// signs each entry once, and each reader verifies it once per read.
//
//   build/bench/stream_mac_bench [--iterations 200000] [--envelope-bytes 400]
//
// Prints nanoseconds per Sign and per Verify of an entry whose envelope has
// `envelope-bytes` bytes (a caseplan.plan.updated envelope is some 300–400).

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "common/stream_mac.h"

int main(int argc, char** argv) {
  int iterations = 200000;
  int envelope_bytes = 400;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--iterations") == 0) (void)absl::SimpleAtoi(argv[i + 1], &iterations);
    if (std::strcmp(argv[i], "--envelope-bytes") == 0) {
      (void)absl::SimpleAtoi(argv[i + 1], &envelope_bytes);
    }
  }
  const samplan::StreamKeys& keys = samplan::StreamKeys::ProcessLocal();
  const std::string stream = "samplan:events:{1885}";
  const std::string envelope(static_cast<size_t>(envelope_bytes), '\x2a');
  const std::string event_id = "0b6f6c1e-6f54-4b5e-9d0f-3f2a1c9e8d7b";
  const std::string type = "caseplan.plan.updated";

  std::string mac;
  absl::Time start = absl::Now();
  for (int i = 0; i < iterations; ++i) mac = keys.Sign(stream, event_id, type, envelope, "42");
  const double sign_ns = absl::ToDoubleNanoseconds(absl::Now() - start) / iterations;

  samplan::StreamEntry entry{"1-0",
                             {{"event_id", event_id},
                              {"type", type},
                              {"event", envelope},
                              {"access_version", "42"},
                              {"mac", mac}}};
  int verified = 0;
  start = absl::Now();
  for (int i = 0; i < iterations; ++i) verified += keys.Verify(stream, entry) ? 1 : 0;
  const double verify_ns = absl::ToDoubleNanoseconds(absl::Now() - start) / iterations;
  std::printf("envelope %d bytes, %d iterations: sign %.0f ns, verify %.0f ns (%d verified)\n",
              envelope_bytes, iterations, sign_ns, verify_ns, verified);
  return verified == iterations ? 0 : 1;
}
