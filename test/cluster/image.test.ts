// The test kubelet runs the project's image as the Dockerfile defines it; these constants must
// not drift from the Dockerfile's final stage.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { imageRepository, isProjectImage, projectImage } from "./kubelet/image.ts";
import { repositoryRoot } from "./paths.ts";

function finalStage(): string[] {
  const lines = readFileSync(join(repositoryRoot, "Dockerfile"), "utf8").split("\n");
  const from = lines.findLastIndex((line) => /^FROM\s/i.test(line));
  return lines.slice(from).map((line) => line.trim());
}

function instruction(name: string): string {
  const line = finalStage().findLast((entry) => entry.toUpperCase().startsWith(`${name} `));
  assert.ok(line !== undefined, `the Dockerfile's final stage has no ${name}`);
  return line.slice(name.length).trim();
}

test("the image's ENTRYPOINT, CMD and WORKDIR are the Dockerfile's", () => {
  assert.deepEqual(JSON.parse(instruction("ENTRYPOINT")), projectImage.entrypoint);
  assert.deepEqual(JSON.parse(instruction("CMD")), projectImage.cmd);
  assert.equal(instruction("WORKDIR"), projectImage.workdir);
});

test("the image's ENV is the Dockerfile's", () => {
  const env = Object.fromEntries(
    finalStage()
      .filter((line) => /^ENV\s/i.test(line))
      .flatMap((line) => line.slice(3).trim().split(/\s+/))
      .map((pair) => pair.split("=", 2)),
  ) as Record<string, string>;
  assert.deepEqual(env, projectImage.env);
});

test("any tag or digest of the project's repository is the project's image, nothing else is", () => {
  assert.ok(isProjectImage(`${projectImage.repository}:dev`));
  assert.ok(isProjectImage(`${projectImage.repository}@sha256:${"a".repeat(64)}`));
  assert.ok(isProjectImage(projectImage.repository));
  assert.ok(!isProjectImage("docker.io/library/nginx:1.27"));
  assert.ok(!isProjectImage(`${projectImage.repository}-other:dev`));
  assert.equal(imageRepository("localhost:5000/a/b:1"), "localhost:5000/a/b");
});
