// The operator times each Lease's changes on its own clock: a Lease that keeps changing is young
// whatever its renewTime says, one that stops changing ages from when it was last seen to change.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import { createLeaseRenewals } from "../../../operator/reconcile/lease-renewals.ts";
import { seededRandom } from "../seeded-random.ts";

const lease = (name: string, resourceVersion: string, renewTime?: Date): V1Lease => ({
  metadata: { namespace: "shop", name, resourceVersion },
  spec: { renewTime },
});

test("a Lease ages from when its version was first seen, not from its renewTime", () => {
  let clock = 1_000;
  const renewals = createLeaseRenewals(() => clock);
  // Its processor's wall clock is an hour behind: the operator does not read it.
  const skewed = new Date(Date.now() - 3_600_000);
  renewals.observe(lease("beat", "1", skewed), true);
  clock += 4_000;
  assert.equal(renewals.unchangedForMs(lease("beat", "1", skewed)), 4_000);
  renewals.observe(lease("beat", "2", skewed), true);
  clock += 1_000;
  assert.equal(renewals.unchangedForMs(lease("beat", "2", skewed)), 1_000, "renewed: young again");
  renewals.observe(lease("beat", "2", skewed), true);
  clock += 1_000;
  assert.equal(renewals.unchangedForMs(lease("beat", "2")), 2_000, "a relist of the same version");
});

test("a version the cache holds before its event counts as changed now; a deleted Lease is forgotten", () => {
  let clock = 0;
  const renewals = createLeaseRenewals(() => clock);
  renewals.observe(lease("beat", "1"), true);
  clock = 9_000;
  assert.equal(renewals.unchangedForMs(lease("beat", "7")), 0);
  clock = 10_000;
  renewals.observe(lease("beat", "7"), true);
  assert.equal(renewals.unchangedForMs(lease("beat", "7")), 1_000, "its event changes nothing");
  renewals.observe(lease("beat", "7"), false);
  clock = 20_000;
  assert.equal(renewals.unchangedForMs(lease("beat", "7")), 0, "created again under that name");
});

test("seeded random events: the age is the time since the version in hand was first seen", () => {
  const random = seededRandom(42);
  let clock = 0;
  const renewals = createLeaseRenewals(() => clock);
  const firstSeen = new Map<string, number>();
  const versions = new Map<string, number>();
  for (let step = 0; step < 5_000; step++) {
    clock += Math.floor(random() * 700);
    const name = `lease-${String(Math.floor(random() * 5))}`;
    const version = versions.get(name) ?? 0;
    const roll = random();
    if (roll < 0.3) {
      versions.set(name, version + 1);
      renewals.observe(lease(name, String(version + 1)), true);
      firstSeen.set(`${name}@${String(version + 1)}`, clock);
    } else if (roll < 0.35) {
      renewals.observe(lease(name, String(version)), false);
      versions.set(name, version + 1);
    } else if (roll < 0.5) {
      renewals.observe(lease(name, String(version)), true);
      if (!firstSeen.has(`${name}@${String(version)}`))
        firstSeen.set(`${name}@${String(version)}`, clock);
    } else {
      const key = `${name}@${String(version)}`;
      const age = renewals.unchangedForMs(lease(name, String(version)));
      const expected = clock - (firstSeen.get(key) ?? clock);
      firstSeen.set(key, firstSeen.get(key) ?? clock);
      assert.equal(age, expected, `step ${String(step)}: ${key}`);
    }
  }
});
