// Where the test bed keeps its state: inside the clone, under the git-ignored .cache/.
import { join } from "node:path";

export const repositoryRoot = join(import.meta.dirname, "../..");
export const clusterStateRoot = join(repositoryRoot, ".cache/cluster");
/** Per-pod folders (logs, volumes) of the kubelet that `npm run cluster:up` starts. */
export const defaultPodsDir = join(clusterStateRoot, "pods");
