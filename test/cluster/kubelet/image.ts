// This project's container image, as the test kubelet runs it: no image is pulled; the repository
// checkout is the image's file system at WORKDIR, and its ENTRYPOINT/CMD/ENV are these constants
// (image.test.ts holds them to the Dockerfile's lines).

export const projectImage = {
  repository: "ghcr.io/async-enrichment/async-enrichment",
  entrypoint: ["node"],
  cmd: ["processor/main.ts"],
  workdir: "/app",
  env: { NODE_ENV: "production" } as Record<string, string>,
};

/** The repository of an image reference, without its tag or digest. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split("@")[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  return colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** Any tag or digest of the project's image runs; every other image fails to "pull". */
export function isProjectImage(image: string): boolean {
  return imageRepository(image) === projectImage.repository;
}
