#!/usr/bin/env bash
# Renders every overlay under k8s/overlays with kubectl's built-in kustomize and
# validates each rendered object, offline, against the Kubernetes API schemas
# (validate.mjs). Exits non-zero if an overlay does not render or any object is
# invalid. Needs no cluster. CI runs it as `bash k8s/validate/run.sh`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s="$(dirname "${here}")"

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

ensure_kubectl() {
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "k8s: kubectl not found; installing Debian's kubernetes-client" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client
  fi
  # The overlays use kustomize v5 fields (labels, patches, replicas). kubectl has
  # bundled kustomize v5 since 1.27; Debian 12's kubernetes-client is 1.20 with
  # kustomize v2, which cannot render them, so say so instead of failing obscurely.
  local version
  version="$(kubectl version --client -o json 2>/dev/null |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try { console.log(JSON.parse(s).kustomizeVersion ?? ""); } catch { console.log(""); }
    });')"
  if [[ ! "${version}" =~ ^v([0-9]+)\. ]] || (( BASH_REMATCH[1] < 5 )); then
    echo "k8s: $(command -v kubectl) bundles kustomize '${version:-unknown}';" \
      "rendering needs kustomize v5 (kubectl 1.27 or later)" >&2
    # Debian 12 has no newer kubectl. CI's machines carry one, and there a
    # missing one is a failure; on a plain Debian machine the check is skipped,
    # loudly, rather than failing every other test's run.
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    echo "k8s: SKIPPED manifest validation (install kubectl 1.27+ to run it)" >&2
    exit 0
  fi
}

ensure_node_modules() {
  # Reinstall when the lock file changed since the last install, not only when
  # node_modules is missing, so CI never validates with stale packages.
  if [[ ! -f "${here}/node_modules/.package-lock.json" ||
        "${here}/package-lock.json" -nt "${here}/node_modules/.package-lock.json" ]]; then
    (cd "${here}" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

ensure_kubectl
ensure_node_modules

workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT

overlays=0
objects=0
failed=()
for dir in "${k8s}"/overlays/*/; do
  overlay="$(basename "${dir}")"
  [[ -f "${dir}/kustomization.yaml" ]] || continue
  overlays=$((overlays + 1))
  # Named after the overlay, so validate.mjs's error messages say which one.
  rendered="${workdir}/overlays-${overlay}.yaml"
  if ! kubectl kustomize "${dir}" >"${rendered}"; then
    echo "k8s: overlays/${overlay} does not render" >&2
    failed+=("${overlay}")
    continue
  fi
  if ! result="$(node "${here}/validate.mjs" "${rendered}")"; then
    failed+=("${overlay}")
  fi
  # Every line is "ok <kind>/<name>"; the errors went to stderr.
  while IFS= read -r line; do
    [[ -n "${line}" ]] || continue
    echo "overlays/${overlay}: ${line}"
    objects=$((objects + 1))
  done <<<"${result}"
done

if (( overlays == 0 )); then
  echo "k8s: no overlays found under ${k8s}/overlays" >&2
  exit 1
fi
if (( ${#failed[@]} > 0 )); then
  echo "k8s: invalid overlays: ${failed[*]}" >&2
  exit 1
fi
echo "k8s: ${overlays} overlays, ${objects} objects valid"
