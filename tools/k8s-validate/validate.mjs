// Validates every document of the given Kubernetes manifests against the API schemas of its apiVersion and kind
// (kubernetes-models: the Kubernetes OpenAPI schemas compiled to validators). Exit 1 on the first file with an error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

let failed = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (document.errors.length > 0) {
      console.log(`${file}: YAML: ${document.errors[0].message}`);
      failed++;
      continue;
    }
    const object = document.toJSON();
    if (!object) continue;
    const where = `${file}: ${object.kind ?? "?"} ${object.metadata?.name ?? "?"}`;
    let model;
    try {
      model = (await import(`kubernetes-models/${object.apiVersion}`))[object.kind];
    } catch {
      model = undefined;
    }
    if (!model) {
      console.log(`${where}: unknown apiVersion/kind ${object.apiVersion}/${object.kind}`);
      failed++;
      continue;
    }
    try {
      new model(object).validate();
      checked++;
    } catch (e) {
      console.log(`${where}: ${e.message}`);
      failed++;
    }
  }
}
console.log(`kubernetes manifests: ${checked} valid, ${failed} invalid`);
process.exit(failed === 0 && checked > 0 ? 0 : 1);
