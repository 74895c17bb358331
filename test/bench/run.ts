// `npm run bench`: the performance model of docs/benchmarks.md, measured side by side in one run
// (these machines are shared and noisy, so every figure is a ratio of two measured in the same run).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { littlesLawSection } from "./littles-law-section.ts";
import { memorySection } from "./memory-section.ts";
import { perRecordSection } from "./per-record-section.ts";
import { sinkAggregationSection } from "./sink-aggregation-section.ts";
import { adaptiveConcurrencySection } from "./adaptive-concurrency-section.ts";
import { endpointOutageSection } from "./endpoint-outage-section.ts";
import { httpVersionSection } from "./http-version-section.ts";

const { values } = parseArgs({
  options: {
    "window-ms": { type: "string", default: "5000" },
    backlog: { type: "string", default: "20000" },
    "skip-memory": { type: "boolean", default: false },
    only: { type: "string" },
    rounds: { type: "string", default: "3" },
    // Endpoints already running that answer any path (e.g. a Go endpoint), for the per-record
    // section; by default it starts the demo endpoint.
    "fast-endpoint": { type: "string" },
    "slow-endpoint": { type: "string" },
  },
});
const perRecordOptions = {
  rounds: Number(values.rounds),
  fastUrl: values["fast-endpoint"],
  slowUrl: values["slow-endpoint"],
};
const docs = join(import.meta.dirname, "../../docs");

// `--only <section>` runs one section and replaces it in docs/benchmarks.md in place:
// sink-aggregation (a few seconds), adaptive-concurrency (about 30 s), per-record-cost (about
// 100 s at 3 rounds), littles-law (about 2 minutes), memory (a few minutes), endpoint-outage
// (about 4 minutes), http-version (about a minute).
const onlySections: Record<string, (say: (line: string) => void) => Promise<string>> = {
  "sink-aggregation": sinkAggregationSection,
  "adaptive-concurrency": adaptiveConcurrencySection,
  "endpoint-outage": endpointOutageSection,
  "http-version": httpVersionSection,
  "per-record-cost": (say) => perRecordSection(say, perRecordOptions),
  memory: (say) => memorySection(say, Number(values.backlog)),
  "littles-law": (say) => littlesLawSection(say, Number(values["window-ms"]), 1_500, docs),
};
if (values.only !== undefined) {
  const only = onlySections[values.only];
  if (only === undefined) {
    throw new Error(`--only takes: ${Object.keys(onlySections).join(", ")}`);
  }
  const section = await only((line) => process.stderr.write(`${line}\n`));
  const file = join(docs, "benchmarks.md");
  const report = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const heading = section.slice(0, section.indexOf("\n"));
  const start = report.indexOf(heading);
  const end = start < 0 ? -1 : report.indexOf("\n## ", start + heading.length);
  const updated =
    start < 0
      ? `${report.trimEnd()}\n\n${section}\n`
      : `${report.slice(0, start)}${section}\n${end < 0 ? "" : report.slice(end)}`;
  writeFileSync(file, updated);
  process.stdout.write(`${section}\n\nwritten to docs/benchmarks.md\n`);
  process.exit(0);
}

const windowMs = Number(values["window-ms"]);
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const sections: string[] = [];
/** Keeps a finished section, and shows it at once: a long run stopped midway still tells something. */
const addSection = (section: string): void => {
  sections.push(section);
  say(`\n${section}\n`);
};

// 1. Little's law end to end, against the emulator's ceiling; sync against async.
addSection(await littlesLawSection(say, windowMs, 1_500, docs));
// 2. The cost per record at the limit, against bare undici loops.
addSection(await perRecordSection(say, perRecordOptions));
// 3. What aggregation on write saves in PutRecords entries and payload units.
addSection(await sinkAggregationSection(say));
// 4. Adaptive concurrency against an endpoint that queues past 40 requests.
addSection(await adaptiveConcurrencySection(say));
// 5. Memory of a pod while it drains a backlog, and while it idles.
if (!values["skip-memory"]) addSection(await memorySection(say, Number(values.backlog)));
// 6. An endpoint down for two minutes under load: what waits, what is lost, how fast it recovers.
addSection(await endpointOutageSection(say));
// 7. HTTP/1.1 against HTTP/2 at capacity 1,000: records/s and the connections the endpoint saw.
addSection(await httpVersionSection(say));

mkdirSync(docs, { recursive: true });
const report = `# Benchmarks\n\nWritten by \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}\` on ${new Date().toISOString().slice(0, 10)} (${process.platform}, ${process.arch}, Node ${process.version}, 2 shared cores). Figures are ratios of quantities measured side by side in the same run.\n\n${sections.join("\n\n")}\n`;
writeFileSync(join(docs, "benchmarks.md"), report);
process.stdout.write(`${report}\nwritten to docs/benchmarks.md and docs/littles-law.svg\n`);
