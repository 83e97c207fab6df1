#!/usr/bin/env node
// Validates Kubernetes objects, offline, against the OpenAPI schemas of the
// Kubernetes API (as packaged by kubernetes-models).
//
//   kubectl kustomize k8s/overlays/dev | node k8s/validate/validate.mjs
//   node k8s/validate/validate.mjs rendered.yaml other.yaml
//
// Reads multi-document YAML from the files named, or from stdin when none is (or
// for "-"). For every object it finds the model class of its apiVersion and kind,
// builds it and validates it, then prints "ok <kind>/<name>". An object of a kind
// the models do not know is an error too: an unchecked object is not a valid one.
// Exits 1 if any object failed, printing why on stderr.
//
// What the schemas catch: wrong types (replicas: "three"), missing required
// fields, malformed values. What they do not: misspelled field names, because
// the Kubernetes schemas allow unknown fields; the API server rejects those at
// apply time (kubectl's default --validate=strict).

import { readFileSync } from "node:fs";
import yaml from "js-yaml";

// "apps/v1" -> "kubernetes-models/apps/v1", "v1" -> "kubernetes-models/v1". Only
// well-formed API versions are turned into a module path.
const API_VERSION = /^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;

async function findModel(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !API_VERSION.test(apiVersion)) {
    throw new Error(`apiVersion ${JSON.stringify(apiVersion)} is missing or malformed`);
  }
  if (typeof kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    throw new Error(`kind ${JSON.stringify(kind)} is missing or malformed`);
  }
  let models;
  try {
    models = await import(`kubernetes-models/${apiVersion}`);
  } catch (err) {
    if (err.code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || err.code === "ERR_MODULE_NOT_FOUND") {
      throw new Error(`unknown apiVersion ${apiVersion} (not in kubernetes-models)`);
    }
    throw err;
  }
  // A module also exports the classes of nested types (DeploymentSpec, …); only a
  // top-level object's class carries its own apiVersion and kind.
  const Model = models[kind];
  if (typeof Model !== "function" || Model.apiVersion !== apiVersion || Model.kind !== kind) {
    throw new Error(`unknown kind ${kind} in ${apiVersion}`);
  }
  return Model;
}

function describeErrors(err) {
  if (!Array.isArray(err.errors)) return `  ${err.message}`;
  return err.errors
    .map((e) => {
      const where = e.instancePath === "" ? "(object)" : e.instancePath;
      const allowed = e.params?.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : "";
      return `  ${where}: ${e.message}${allowed}`;
    })
    .join("\n");
}

// Kinds of operators' custom resources whose schemas kubernetes-models does not
// carry and that are not available offline: checked here only for apiVersion,
// kind and name, and printed as "unchecked"; the operator's admission webhook
// validates them at apply time. Keep this list short and name the operator.
const UNCHECKED_KINDS = new Map([
  // CloudNativePG (cnpg.io): overlays/prod/postgres-cluster.yaml.
  ["postgresql.cnpg.io/v1", new Set(["Cluster", "ScheduledBackup"])],
]);

async function validateDocument(doc) {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error("is not a mapping");
  }
  if (UNCHECKED_KINDS.get(doc.apiVersion)?.has(doc.kind)) {
    if (typeof doc.metadata?.name !== "string" || doc.metadata.name === "") {
      throw new Error("/metadata/name: is required");
    }
    if (typeof doc.spec !== "object" || doc.spec === null) throw new Error("/spec: is required");
    return "unchecked";
  }
  const Model = await findModel(doc.apiVersion, doc.kind);
  if (typeof doc.metadata?.name !== "string" || doc.metadata.name === "") {
    // The schema allows generateName instead, but kubectl apply needs a name.
    throw new Error("/metadata/name: is required");
  }
  new Model(doc).validate();
  return "checked";
}

async function main() {
  let failed = 0;
  let checked = 0;
  const args = process.argv.slice(2);
  for (const name of args.length === 0 ? ["-"] : args) {
    const source = name === "-" ? "<stdin>" : name;
    let docs;
    try {
      docs = yaml.loadAll(readFileSync(name === "-" ? 0 : name, "utf8"));
    } catch (err) {
      console.error(`error ${source}: ${err.message}`);
      failed++;
      continue;
    }
    for (const [index, doc] of docs.entries()) {
      if (doc === null || doc === undefined) continue; // empty document ("---" twice)
      checked++;
      const label = `${doc?.kind ?? "?"}/${doc?.metadata?.name ?? "?"}`;
      try {
        const result = await validateDocument(doc);
        console.log(result === "unchecked" ? `ok ${label} (unchecked: custom resource)` : `ok ${label}`);
      } catch (err) {
        failed++;
        console.error(`error ${label} (${source}, document ${index + 1}):`);
        console.error(describeErrors(err));
      }
    }
  }
  if (failed > 0) {
    console.error(`${failed} failed, ${checked} objects read`);
    process.exit(1);
  }
  if (checked === 0) {
    // An empty render is a broken pipeline, not a valid configuration.
    console.error("error: no objects to validate");
    process.exit(1);
  }
}

await main();
