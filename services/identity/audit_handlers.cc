// IdentityService: the audit log (ListAccessLog, VerifyAuditLog, ReviewAccess).

#include "services/identity/identity_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/paging.h"
#include "common/status.h"
#include "services/identity/audit_chain.h"
#include "services/identity/handler_support.h"
#include "services/identity/identity_rules.h"

namespace samplan::identity {
namespace {

constexpr int kAuditPageSize = 500;
constexpr int kMaxFindings = 1000;

}  // namespace

grpc::Status IdentityService::ListAccessLog(grpc::ServerContext* context,
                                            const v1::ListAccessLogRequest* request,
                                            v1::ListAccessLogResponse* response) {
  return calls_.Handle(context, "ListAccessLog", *request, [&](const CallContext& call) -> absl::Status {
    const std::string person_id = PersonIdOf(request->person());
    if (person_id.empty()) return InvalidField("person", "must be persons/{id}");
    absl::StatusOr<int> page_size = PageSizeOf(request->page_size());
    if (!page_size.ok()) return page_size.status();
    const std::string& filters = request->person();
    int64_t before = 0;
    if (!request->page_token().empty()) {
      absl::StatusOr<std::vector<std::string>> position =
          DecodePageToken(request->page_token(), filters, 1);
      if (!position.ok()) return position.status();
      if (!absl::SimpleAtoi((*position)[0], &before) || before < 2) {
        return InvalidField("page_token", "is not a token this call returned");
      }
    }
    absl::StatusOr<std::vector<AuditRecord>> records = repository_.ListAccessLog(
        CallerOf(call, "ListAccessLog"), person_id, before, *page_size + 1);
    if (!records.ok()) return records.status();
    const bool more = TrimToPage(*records, *page_size);
    for (const AuditRecord& record : *records) {
      v1::AccessLogEntry* entry = response->add_entries();
      entry->set_sequence(record.sequence);
      *entry->mutable_time() = Timestamp(record.time);
      entry->set_actor_organization(record.actor_organization);
      entry->set_actor_user(record.actor_user);
      entry->set_action(record.action);
      entry->set_resource(record.resource);
      entry->set_data_category(record.data_category);
      entry->set_purpose(record.purpose);
      entry->set_consent(record.consent);
      entry->set_decision(record.decision);
      entry->set_reason(record.reason);
      entry->set_request_id(record.request_id);
    }
    if (more) {
      response->set_next_page_token(
          EncodePageToken(filters, {absl::StrCat(response->entries().rbegin()->sequence())}));
    }
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::VerifyAuditLog(grpc::ServerContext* context,
                                             const v1::VerifyAuditLogRequest* request,
                                             v1::VerifyAuditLogResponse* response) {
  return calls_.Handle(context, "VerifyAuditLog", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = RequireRole(call.principal, "supervisor"); !role.ok()) return role;
    if (!request->person().empty() && PersonIdOf(request->person()).empty()) {
      return InvalidField("person", "must be persons/{id}");
    }
    int64_t records_checked = 0;
    int64_t chains_checked = 0;
    std::optional<std::pair<v1::AuditChainBreak, std::string>> broken;
    // The supervisor's look at the log is itself in the log, on the chain of no
    // person (so that verifying never changes the chain it verifies).
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      for (const AuditChainHead& head :
           store.AuditHeads(call.principal.municipality, request->person())) {
        ++chains_checked;
        int64_t last = 0;
        std::string previous_hash(kGenesisAuditHash);
        auto break_at = [&](int64_t sequence, std::string problem) {
          v1::AuditChainBreak at;
          at.set_person(head.subject_person);
          at.set_sequence(sequence);
          broken.emplace(std::move(at), std::move(problem));
        };
        // The seal, made with a key the database does not hold, is what a rewrite
        // by the tables' owner cannot follow: the chain must pass through it.
        const AuditSeal* seal = sealer_ != nullptr && head.seal ? &*head.seal : nullptr;
        if (seal != nullptr && !sealer_->Verify(*seal)) {
          break_at(seal->sequence, "the chain's keyed seal is not valid");
          break;
        }
        if (seal != nullptr && seal->sequence > head.sequence) {
          break_at(head.sequence + 1, "records missing at the end of the chain");
          break;
        }
        auto matches_seal = [&](const AuditRecord& record) {
          if (seal == nullptr || record.sequence != seal->sequence || record.hash == seal->hash) {
            return true;
          }
          break_at(record.sequence, "the record differs from the chain's keyed seal");
          return false;
        };
        // Records appended after the head was read lie beyond it and wait for the
        // next check.
        while (last < head.sequence && !broken) {
          std::vector<AuditRecord> page = store.AuditChainPage(
              head.subject_person, head.shard, last, head.sequence, kAuditPageSize);
          if (page.empty()) break;
          if (!VerifyChainSegment(page, last + 1, previous_hash).ok()) {
            // Find the first record at fault, one at a time.
            for (const AuditRecord& record : page) {
              absl::Status one = VerifyChainSegment({record}, last + 1, previous_hash);
              if (!one.ok()) {
                break_at(last + 1, std::string(one.message()));
                break;
              }
              if (!matches_seal(record)) break;
              ++records_checked;
              last = record.sequence;
              previous_hash = record.hash;
            }
            break;
          }
          for (const AuditRecord& record : page) {
            if (!matches_seal(record)) break;
          }
          if (broken) break;
          records_checked += static_cast<int64_t>(page.size());
          last = page.back().sequence;
          previous_hash = page.back().hash;
        }
        if (broken) break;
        if (last != head.sequence) {
          break_at(last + 1, "records missing at the end of the chain");
        } else if (previous_hash != head.hash) {
          break_at(last, "the chain does not end with the hash its head records");
        }
        if (broken) break;
      }
      store.Audit(CallAudit(call, "identity.VerifyAuditLog",
                            request->person().empty() ? "auditRecords" : request->person(), true,
                            "supervision"));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    response->set_records_checked(records_checked);
    response->set_chains_checked(chains_checked);
    response->set_verified(!broken.has_value());
    if (broken) {
      *response->mutable_broken_at() = broken->first;
      response->set_problem(broken->second);
    }
    return absl::OkStatus();
  });
}

grpc::Status IdentityService::ReviewAccess(grpc::ServerContext* context,
                                           const v1::ReviewAccessRequest* request,
                                           v1::ReviewAccessResponse* response) {
  return calls_.Handle(context, "ReviewAccess", *request, [&](const CallContext& call) -> absl::Status {
    if (absl::Status role = RequireRole(call.principal, "supervisor"); !role.ok()) return role;
    FieldViolations v;
    if (!request->has_start_time()) v.Add("start_time", "is required");
    if (!request->has_end_time()) v.Add("end_time", "is required");
    const absl::Time start = TimeOf(request->start_time());
    const absl::Time end = TimeOf(request->end_time());
    if (request->has_start_time() && request->has_end_time() &&
        (end <= start || end - start > absl::Hours(24 * 93))) {
      v.Add("end_time", "must be after start_time and at most 93 days later");
    }
    if (request->volume_threshold() < 0) v.Add("volume_threshold", "must not be negative");
    if (!v.empty()) return v.ToStatus();
    const int threshold = request->volume_threshold() == 0 ? 50 : request->volume_threshold();
    std::vector<v1::AccessFinding> findings;
    absl::Status status = repository_.Transaction(call.deadline, [&](IdentityStore& store) {
      findings = store.ReviewFindings(call.principal.municipality, start, end, threshold,
                                      kMaxFindings + 1);
      store.Audit(
          CallAudit(call, "identity.ReviewAccess", "auditRecords", true, "supervision"));
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    response->set_truncated(static_cast<int>(findings.size()) > kMaxFindings);
    for (int i = 0; i < static_cast<int>(findings.size()) && i < kMaxFindings; ++i) {
      *response->add_findings() = std::move(findings[i]);
    }
    return absl::OkStatus();
  });
}

}  // namespace samplan::identity
