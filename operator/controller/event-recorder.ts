// Records a job's Events as client-go's events/v1 broadcaster does (tools/events, recordToSink):
// an Event like one recorded in the last few minutes (same object, type, reason, action, reporter
// and note) is not created again; the first one's series {count, lastObservedTime} is patched
// instead. A condition that repeats (parallelism set back at every reconcile while another writer
// keeps changing it, a write retried after each failure) shows as one Event with a count, not as
// one Event per occurrence.
import {
  PatchStrategy,
  V1MicroTime,
  setHeaderOptions,
  type EventsV1Api,
  type EventsV1Event,
  type EventsV1EventSeries,
} from "@kubernetes/client-node";
import { apiStatusCode } from "../../processor/contract.ts";
import { apiVersion, kind } from "../api/job-schema.ts";
import type { JobObject, ReconcileContext } from "../reconcile/reconcile-job.ts";

/** The two writes of the recorder: EventsV1Api's in the operator. */
export interface EventSink {
  create(event: EventsV1Event): Promise<void>;
  /** Rejects with an error whose `code` is 404 when the Event no longer exists. */
  patchSeries(namespace: string, name: string, series: EventsV1EventSeries): Promise<void>;
}

export function eventsV1Sink(api: EventsV1Api): EventSink {
  return {
    async create(event) {
      await api.createNamespacedEvent({ namespace: event.metadata?.namespace ?? "", body: event });
    },
    async patchSeries(namespace, name, series) {
      await api.patchNamespacedEvent(
        { name, namespace, body: { series } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    },
  };
}

/** Who records: reportingController and reportingInstance of every Event. */
export interface Reporter {
  controller: string;
  instance: string;
}

export interface RecorderOptions {
  now?: () => Date;
  /** A series without a repeat for this long is over: the next occurrence is a new Event. */
  windowMs?: number;
  /** Recent Events remembered at most; the least recently seen is forgotten first. */
  maxEntries?: number;
}

/** client-go's finishTime. */
export const seriesWindowMs = 6 * 60_000;
const defaultMaxEntries = 1024;

/** An Event recorded: what to create again should it vanish, and how often it has happened. */
export interface Recorded {
  event: EventsV1Event;
  count: number;
  lastObservedMs: number;
}

type JobEventType = Parameters<ReconcileContext["recordEvent"]>[1];

/** Tells apart Events created in one millisecond (random suffixes collided one run in ~100). */
let createdInProcess = 0;

/** A new Event about the job, named as client-go names Events: the object's name and a hex time. */
export function jobEvent(
  job: JobObject,
  type: JobEventType,
  reason: string,
  message: string,
  reporter: Reporter,
  at: Date,
): EventsV1Event {
  const namespace = job.metadata?.namespace ?? "";
  const micros = at.getTime() * 1000 + (createdInProcess++ % 1000);
  return {
    metadata: { name: `${job.metadata?.name ?? "job"}.${micros.toString(16)}`, namespace },
    eventTime: new V1MicroTime(at.getTime()),
    reportingController: reporter.controller,
    reportingInstance: reporter.instance,
    action: "Reconcile",
    type,
    reason,
    note: message.slice(0, 1024),
    regarding: { apiVersion, kind, name: job.metadata?.name, namespace, uid: job.metadata?.uid },
  };
}

/**
 * What makes two Events the same occurrence: client-go's eventKey, plus the note (as the core/v1
 * recorder's dedupe has it), so "set back to 3" and "set back to 5" stay two Events.
 */
export function isomorphicKey(event: EventsV1Event): string {
  const { regarding } = event;
  return JSON.stringify([
    regarding?.apiVersion,
    regarding?.kind,
    regarding?.namespace,
    regarding?.name,
    regarding?.uid,
    event.type,
    event.reason,
    event.action,
    event.reportingController,
    event.reportingInstance,
    event.note,
  ]);
}

/** The series count a repeat of `previous` has now, or undefined when a new Event is due. */
export function repeatCount(
  previous: Recorded | undefined,
  nowMs: number,
  windowMs: number,
): number | undefined {
  if (previous === undefined || nowMs - previous.lastObservedMs > windowMs) return undefined;
  return previous.count + 1;
}

/**
 * Drops entries past the window and, over `maxEntries`, the least recently seen. The map is kept
 * in order of last observation (an entry is moved to the end when seen), so both are at its front.
 */
export function forgetStale(
  recent: Map<string, Recorded>,
  nowMs: number,
  windowMs: number,
  maxEntries: number,
): void {
  for (const [key, recorded] of recent) {
    if (recent.size <= maxEntries && nowMs - recorded.lastObservedMs <= windowMs) return;
    recent.delete(key);
  }
}

async function recordRepeat(
  sink: EventSink,
  previous: Recorded,
  count: number,
  at: Date,
): Promise<Recorded> {
  const series = { count, lastObservedTime: new V1MicroTime(at.getTime()) };
  try {
    await sink.patchSeries(
      previous.event.metadata?.namespace ?? "",
      previous.event.metadata?.name ?? "",
      series,
    );
  } catch (error) {
    if (apiStatusCode(error) !== 404) throw error;
    // Deleted meanwhile: created again under its name with the count so far, as client-go does.
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- built as a plain object
    await sink.create({ ...previous.event, series });
  }
  return { event: previous.event, count, lastObservedMs: at.getTime() };
}

/**
 * recordEvent for the reconcile context. Every repeat is patched at once, so the count on the
 * API server is never behind without a background flush (client-go holds counts past 2 in memory
 * until a 30-minute heartbeat or the series' end); each patch also renews the Event's time to
 * live, so no heartbeat is needed either.
 * The cache changes only once the API server has accepted the write; reconciles of one job never
 * overlap (the work queue), so neither do the writes of one job's Events.
 */
export function createEventRecorder(
  sink: EventSink,
  reporter: Reporter,
  options: RecorderOptions = {},
): ReconcileContext["recordEvent"] {
  const now = options.now ?? (() => new Date());
  const windowMs = options.windowMs ?? seriesWindowMs;
  const maxEntries = options.maxEntries ?? defaultMaxEntries;
  const recent = new Map<string, Recorded>();
  return async (job, type, reason, message) => {
    const at = now();
    const event = jobEvent(job, type, reason, message, reporter, at);
    const key = isomorphicKey(event);
    const previous = recent.get(key);
    const count = repeatCount(previous, at.getTime(), windowMs);
    let recorded: Recorded;
    if (previous !== undefined && count !== undefined)
      recorded = await recordRepeat(sink, previous, count, at);
    else {
      await sink.create(event);
      recorded = { event, count: 1, lastObservedMs: at.getTime() };
    }
    recent.delete(key);
    recent.set(key, recorded);
    forgetStale(recent, at.getTime(), windowMs, maxEntries);
  };
}
