// samplan-openapi <descriptor set> <out.json>: writes the OpenAPI document of
// every annotated service in a descriptor set that protoc wrote with
// --include_imports --include_source_info. Run by the build.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "google/api/annotations.pb.h"
#include "google/protobuf/descriptor.pb.h"
#include "services/gateway/openapi.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <descriptor set> <out.json>\n", argv[0]);
    return 2;
  }
  // The http option must parse as the extension, not as unknown bytes.
  (void)google::api::http.number();
  std::ifstream in(argv[1], std::ios::binary);
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromIstream(&in)) {
    std::fprintf(stderr, "%s: not a descriptor set\n", argv[1]);
    return 1;
  }
  google::protobuf::DescriptorPool pool;
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  for (const google::protobuf::FileDescriptorProto& file : set.file()) {
    const google::protobuf::FileDescriptor* built = pool.BuildFile(file);
    if (built == nullptr) {
      std::fprintf(stderr, "%s: cannot build\n", file.name().c_str());
      return 1;
    }
    if (file.name().rfind("samplan/", 0) != 0) continue;
    for (int i = 0; i < built->service_count(); ++i) services.push_back(built->service(i));
  }
  absl::StatusOr<std::string> document = samplan::gateway::WriteOpenApi(services);
  if (!document.ok()) {
    std::fprintf(stderr, "%s\n", std::string(document.status().message()).c_str());
    return 1;
  }
  std::ofstream out(argv[2], std::ios::binary);
  out << *document;
  return out.good() ? 0 : 1;
}
