// echo: output = input bytes, unchanged. Uses only input/output host calls
// (no config, vars or logging).
import { Host } from "@extism/as-pdk";
// Provides pluginAbort (build.sh: --use abort=src/common/helpers/pluginAbort).
import "./common/helpers";

export function echo(): i32 {
  const input = Host.input();
  if (input.length > 0) Host.output(input);
  return 0;
}
