// A stateful plug-in holding a secret in its config: the target of the
// internal-exports tests (nothing but `greet` may be callable from outside).
let calls = 0;

export function greet() {
  calls += 1;
  const secret = Config.get("secret") || "";
  Host.outputString(`hello #${calls} (secret has ${secret.length} characters)`);
}
