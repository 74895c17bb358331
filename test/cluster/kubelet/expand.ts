// Kubernetes' $(VAR) expansion in command, args and env values: a reference to a defined variable
// is replaced, an undefined one stays as written, and $$ escapes a literal $.

export function expandReferences(value: string, variables: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (name === undefined) return "$";
    return variables.get(name) ?? match;
  });
}
