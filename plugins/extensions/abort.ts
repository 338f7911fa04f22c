// The AssemblyScript abort handler of the extensions (build.sh passes
// --use abort=abort/pluginAbort, so no module imports env.abort): it sets the
// Extism error to the message, then traps. Not an extension itself.
import { Memory } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";

export function pluginAbort(
  message: string | null = null,
  fileName: string | null = null,
  lineNumber: u32 = 0,
  columnNumber: u32 = 0,
): void {
  error_set(Memory.allocateString("abort: " + (message === null ? "(no message)" : message) +
    (fileName === null ? "" : " at " + fileName + ":" + lineNumber.toString() + ":" + columnNumber.toString())).offset);
  unreachable();
}
