// The label and annotation keys the operator writes and selects by, in one place: the selectors of
// its informers, the labels of the objects it builds and the annotations on its pods must agree.
export const labelKeys = {
  job: "asyncenrichment.dev/job",
  component: "app.kubernetes.io/component",
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

export const managedByOperator = "async-enrichment-operator";

/** Selects every object the operator manages, in any job. */
export const managedBySelector = `${labelKeys.managedBy}=${managedByOperator}`;

/** Pod annotation whose change rolls the pods when their config changes. */
export const configHashAnnotation = "asyncenrichment.dev/config-hash";
