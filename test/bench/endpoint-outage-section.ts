// The benchmark report's section on an endpoint outage: the endpoint down for two minutes while a
// producer keeps writing, the processor at its default outage settings (policy pause). Printed:
// records dead-lettered and lost for the outage, and how long after the endpoint's return the
// processor resumes and catches up with the stream's head.
import { setTimeout as sleep } from "node:timers/promises";
import { startKinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { metricValue } from "../support/metric-value.ts";
import { startRestartableEndpoint } from "../support/restartable-endpoint.ts";
import { createStreams, jsonRecords, produce, runProcessor } from "../support/test-bed.ts";
import { markdownTable } from "./report.ts";

const outageSeconds = Number(process.env.AEJ_OUTAGE_SECONDS ?? "120");
const ratePerSecond = 200;
const latencyMs = 10;
const capacity = 50;

export async function endpointOutageSection(say: (line: string) => void): Promise<string> {
  const emulator = await startKinesisEmulator();
  const endpoint = await startRestartableEndpoint(latencyMs);
  try {
    const streams = await createStreams(emulator, 2);
    const processor = runProcessor(emulator, streams, {
      endpoint: { url: endpoint.url },
      capacity,
    });
    const written = () => metricValue(processor.metrics.registry, "aej_sink_records_written_total");
    let produced = 0;
    const producer = { running: true };
    const producing = (async () => {
      const batch = ratePerSecond / 4;
      while (producer.running) {
        const started = performance.now();
        await produce(emulator, streams.source, jsonRecords(batch, 1_000, produced));
        produced += batch;
        await sleep(Math.max(0, 250 - (performance.now() - started)));
      }
    })();
    /** Waits until the sink is within one second of the stream's head; false after five minutes. */
    const caughtUp = async (): Promise<boolean> => {
      const from = performance.now();
      let said = from;
      while ((await written()) < produced - ratePerSecond) {
        if (performance.now() - from > 300_000) return false;
        if (performance.now() - said > 15_000) {
          said = performance.now();
          say(`  catching up: ${produced} produced, ${await written()} written`);
        }
        await sleep(100);
      }
      return true;
    };
    say(`endpoint outage: ${ratePerSecond} records/s, warming up for 15 s`);
    await sleep(15_000);
    await caughtUp();
    await endpoint.down();
    say(`endpoint outage: endpoint down for ${outageSeconds} s (progress every 30 s)`);
    const downAt = performance.now();
    const writtenAtDown = await written();
    while (performance.now() - downAt < outageSeconds * 1000) {
      await sleep(Math.min(30_000, outageSeconds * 1000 - (performance.now() - downAt)));
      say(
        `  ${((performance.now() - downAt) / 1000).toFixed(0)} s down: ${produced} produced, ${await written()} written, paused=${await metricValue(processor.metrics.registry, "aej_endpoint_paused")}`,
      );
    }
    const writtenDuringOutage = (await written()) - writtenAtDown;
    const backlog = produced - (await written());
    await endpoint.up();
    const upAt = performance.now();
    const beforeUp = await written();
    while ((await written()) <= beforeUp) await sleep(50);
    const resumedMs = performance.now() - upAt;
    const recovered = await caughtUp();
    const caughtUpMs = performance.now() - upAt;
    say(
      `endpoint outage: resumed ${resumedMs.toFixed(0)} ms, caught up ${caughtUpMs.toFixed(0)} ms after the return`,
    );
    producer.running = false;
    await producing;
    while ((await written()) < produced) await sleep(100);
    await processor.stop();

    const dead = (await readAllRecords(emulator.client, streams.deadLetter)).length;
    const sunk = new Set(
      (await readAllRecords(emulator.client, streams.sink)).map(
        (record) => (JSON.parse(Buffer.from(record.data).toString()) as { id: number }).id,
      ),
    );
    const lost = produced - sunk.size;
    const rows = [
      ["outage", `${outageSeconds} s`],
      ["records produced (200/s asked; the emulator may give less)", String(produced)],
      [
        "written during the outage (in flight or in the sink's linger when it began)",
        String(writtenDuringOutage),
      ],
      ["backlog when the endpoint returned", String(backlog)],
      ["records in the dead-letter stream", String(dead)],
      ["records lost", String(lost)],
      ["endpoint return to the first record written", `${(resumedMs / 1000).toFixed(1)} s`],
      [
        "endpoint return to within 1 s of the stream's head",
        recovered ? `${(caughtUpMs / 1000).toFixed(1)} s` : "not within 5 minutes",
      ],
    ];
    return [
      "## An endpoint outage of two minutes",
      "",
      `\`npm run bench -- --only endpoint-outage\` (about ${Math.round(outageSeconds / 60) + 3} minutes): the processor against the Kinesis emulator, default endpoint and outage settings (\`outage.policy: pause\`, probes every 5 s doubling to 15 s), capacity ${capacity}, an echo endpoint of ${latencyMs} ms that stops listening for ${outageSeconds} s while a producer writes ${ratePerSecond} records/s over 1,000 partition keys. The time to resume is bounded by the probe interval reached during the outage; the catch-up by capacity / latency (${(capacity * 1000) / latencyMs} records/s here) less the producer's rate.`,
      "",
      markdownTable(["", "measured"], rows),
      "",
      dead === 0 && lost === 0
        ? "Verdict: PASS (nothing dead-lettered, nothing lost)."
        : "Verdict: FAIL.",
    ].join("\n");
  } finally {
    await endpoint.down();
    await emulator.stop();
  }
}
