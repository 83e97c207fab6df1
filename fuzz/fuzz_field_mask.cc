// Update masks (common/field_mask.h) over the resources that are updated with
// one: a mask is refused naming update_mask, or the fields it resolves to are
// the resource's updatable ones, taken whole from the patch, and nothing else
// changes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include "common/field_mask.h"
#include "fuzz/fuzz_support.h"
#include "samplan/caseplan/v1/caseplan.pb.h"
#include "samplan/identity/v1/identity.pb.h"
#include "samplan/placement/v1/placement.pb.h"
#include "services/caseplan/plan_rules.h"
#include "services/identity/identity_rules.h"
#include "services/placement/placement_rules.h"

namespace {

using google::protobuf::Message;

bool SameField(const Message& a, const Message& b, const google::protobuf::FieldDescriptor* field) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  return differencer.CompareWithFields(a, b, {field}, {field});
}

template <typename Resource>
void Exercise(FuzzedDataProvider& input, const samplan::UpdatableFields& fields) {
  google::protobuf::FieldMask mask;
  Resource current, patch;
  if (!mask.ParseFromString(input.ConsumeRandomLengthString(256))) return;
  (void)current.ParseFromString(input.ConsumeRandomLengthString(4096));
  (void)patch.ParseFromString(input.ConsumeRemainingBytesAsString());

  absl::StatusOr<std::vector<std::string>> paths =
      samplan::ResolveUpdateMask(mask, *Resource::descriptor(), fields);
  if (!paths.ok()) {
    FUZZ_CHECK(paths.status().code() == absl::StatusCode::kInvalidArgument);
    for (const auto& [field, description] : samplan::FieldViolationsOf(paths.status())) {
      FUZZ_CHECK(field == "update_mask");
    }
    FUZZ_CHECK(!samplan::FieldViolationsOf(paths.status()).empty());
    return;
  }
  for (const std::string& path : *paths) {
    FUZZ_CHECK(std::find(fields.updatable.begin(), fields.updatable.end(), path) !=
               fields.updatable.end());
  }
  Resource next = current;
  samplan::ApplyUpdateMask(patch, *paths, next);
  const google::protobuf::Descriptor* type = Resource::descriptor();
  for (int i = 0; i < type->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = type->field(i);
    const bool masked = std::find(paths->begin(), paths->end(), field->name()) != paths->end();
    FUZZ_CHECK(SameField(masked ? patch : current, next, field));
  }
  for (const std::string& changed : samplan::ChangedFields(current, next, *paths)) {
    FUZZ_CHECK(std::find(paths->begin(), paths->end(), changed) != paths->end());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  switch (input.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: {
      const samplan::UpdatableFields plan{
          samplan::caseplan::MutablePlanFields(),
          {"name", "municipality", "lead_organization", "create_time", "update_time", "version",
           "etag"}};
      Exercise<samplan::caseplan::v1::Plan>(input, plan);
      break;
    }
    case 1: {
      const samplan::UpdatableFields organization{
          samplan::identity::UpdatableOrganizationFields(),
          {"name", "version", "etag", "create_time", "update_time"}};
      Exercise<samplan::identity::v1::Organization>(input, organization);
      break;
    }
    case 2:
      Exercise<samplan::placement::v1::Employer>(input, samplan::placement::EmployerFields());
      break;
    default:
      Exercise<samplan::placement::v1::Placement>(input, samplan::placement::PlacementFields());
      break;
  }
  return 0;
}
