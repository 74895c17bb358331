// What a cluster admin's policy scanner says, as a new user would run it: checkov over the rendered
// chart and over the objects the operator builds for examples/minimal-job.yaml. Every finding left
// is one docs/helm.md justifies; anything else fails here. Needs no cluster (helm template and the
// operator's pure builders), and no network: the scanner downloads nothing.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { jobSpecSchema } from "../../operator/api/job-schema.ts";
import { desiredNetworkPolicy } from "../../operator/reconcile/desired-network-policy.ts";
import { desiredDeployment } from "../../operator/reconcile/desired-workload.ts";
import { controlPlaneBinaries } from "../cluster/binaries.ts";
import { clusterStateRoot, repositoryRoot } from "../cluster/paths.ts";

const execFileAsync = promisify(execFile);

/** Findings docs/helm.md ("What a policy scanner says") explains, with what to do about each. */
const justified = new Map([
  ["CKV_K8S_11", "CPU limits: none on purpose, throttling only adds lag"],
  ["CKV_K8S_43", "image digest: set image.digest or spec.pod.image with @sha256:"],
  ["CKV_K8S_38", "service account token: operator and processors call the API server"],
  ["CKV_K8S_15", "pull policy Always: IfNotPresent with immutable tags or digests"],
]);

interface Finding {
  check_id: string;
  resource: string;
}
interface Report {
  summary: { passed: number; failed: number };
  results: { failed_checks: Finding[] };
}

describe("a policy scanner over the chart and the operator's objects", () => {
  let checkov: string;
  let helm: string;
  const folder = join(clusterStateRoot, "policy-scan");

  before(() => {
    helm = join(controlPlaneBinaries(), "helm");
    checkov = execFileSync("bash", [join(import.meta.dirname, "../cluster/scanner.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    })
      .trim()
      .split("\n")
      .at(-1) as string;
    mkdirSync(folder, { recursive: true });
  });

  const scan = async (name: string, manifests: string): Promise<Report> => {
    const file = join(folder, `${name}.yaml`);
    writeFileSync(file, manifests);
    const args = ["-f", file, "--framework", "kubernetes", "--skip-download", "-o", "json"];
    // checkov exits 1 when a check fails; its report is on stdout either way.
    const { stdout } = await execFileAsync(checkov, args, { maxBuffer: 64 * 1024 * 1024 }).catch(
      (error: unknown) => error as { stdout: string },
    );
    return JSON.parse(stdout) as Report;
  };
  const unexplained = (report: Report): string[] =>
    report.results.failed_checks
      .filter((finding) => !justified.has(finding.check_id))
      .map((finding) => `${finding.check_id} on ${finding.resource}`);

  test("the rendered chart: nothing failed but the justified findings", async () => {
    const { stdout } = await execFileAsync(helm, [
      ...["template", "aej", join(repositoryRoot, "charts/async-enrichment"), "-n", "operators"],
    ]);
    const report = await scan("chart", stdout);
    assert.ok(report.summary.passed > 100, `passed: ${String(report.summary.passed)}`);
    assert.deepEqual(unexplained(report), []);
  });

  test("an image digest in the values clears the digest finding", async () => {
    const { stdout } = await execFileAsync(helm, [
      ...["template", "aej", join(repositoryRoot, "charts/async-enrichment"), "-n", "operators"],
      ...["--set", `image.digest=sha256:${"0".repeat(64)}`],
    ]);
    const report = await scan("chart-digest", stdout);
    const ids = report.results.failed_checks.map((finding) => finding.check_id);
    assert.ok(!ids.includes("CKV_K8S_43"), ids.join(", "));
  });

  test("the processor Deployment and NetworkPolicy the operator builds for examples/minimal-job.yaml", async () => {
    const example = parseYaml(
      readFileSync(join(repositoryRoot, "examples/minimal-job.yaml"), "utf8"),
    ) as { metadata: { name: string }; spec: unknown };
    const job = {
      namespace: "shop",
      name: example.metadata.name,
      uid: "0d5f1f1e-5c7a-4a43-9d2e-6b1f6f3c2a11",
      generation: 1,
      spec: jobSpecSchema.parse(example.spec),
    };
    const objects = [
      desiredDeployment(job, { defaultImage: "ghcr.io/async-enrichment/async-enrichment:0.1.0" }),
      desiredNetworkPolicy(job),
    ];
    const report = await scan(
      "processor",
      objects.map((object) => JSON.stringify(object)).join("\n---\n"),
    );
    assert.ok(report.summary.passed > 70, `passed: ${String(report.summary.passed)}`);
    assert.deepEqual(unexplained(report), []);
  });
});
