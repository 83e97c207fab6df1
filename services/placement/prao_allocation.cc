#include "services/placement/prao_allocation.h"

#include <algorithm>

namespace samplan::placement {
namespace {

// A stable 64-bit mix (FNV-1a then splitmix64): absl::Hash is salted per
// process, and the order must be the same on every replica and every run.
uint64_t StableHash(absl::string_view class_id, uint64_t seed, absl::string_view pupil) {
  uint64_t h = 1469598103934665603ull ^ seed;
  auto feed = [&](absl::string_view text) {
    for (unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  feed(class_id);
  feed(pupil);
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

bool Take(std::map<std::string, int, std::less<>>& seats, const std::string& placement) {
  auto it = seats.find(placement);
  if (it == seats.end() || it->second <= 0) return false;
  --it->second;
  return true;
}

}  // namespace

v1::AllocatePraoResponse AllocatePrao(const std::vector<v1::PraoPupil>& pupils,
                                      std::map<std::string, int, std::less<>> free_seats,
                                      absl::string_view class_id, uint64_t seed) {
  v1::AllocatePraoResponse response;
  for (int i = 0; i < kMaxPraoChoices; ++i) response.add_choice_counts(0);
  std::vector<v1::PraoAssignment> result(pupils.size());
  std::vector<size_t> waiting;
  for (size_t i = 0; i < pupils.size(); ++i) {
    result[i].set_pupil(pupils[i].pupil());
    if (pupils[i].placed_by_hand().empty()) {
      waiting.push_back(i);
      continue;
    }
    result[i].set_placed_by_hand(true);
    if (Take(free_seats, pupils[i].placed_by_hand())) {
      result[i].set_placement(pupils[i].placed_by_hand());
    }
  }
  // The turn order: by the stable hash, ties (practically none) by pupil.
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i : waiting) order.emplace_back(StableHash(class_id, seed, pupils[i].pupil()), i);
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return pupils[a.second].pupil() < pupils[b.second].pupil();
  });
  for (int round = 0; round < kMaxPraoChoices; ++round) {
    for (const auto& [hash, i] : order) {
      if (!result[i].placement().empty() || round >= pupils[i].choices_size()) continue;
      if (Take(free_seats, pupils[i].choices(round))) {
        result[i].set_placement(pupils[i].choices(round));
        result[i].set_choice_rank(round + 1);
        response.set_choice_counts(round, response.choice_counts(round) + 1);
      }
    }
  }
  for (v1::PraoAssignment& assignment : result) {
    if (assignment.placement().empty()) response.add_unplaced(assignment.pupil());
    *response.add_assignments() = std::move(assignment);
  }
  return response;
}

}  // namespace samplan::placement
