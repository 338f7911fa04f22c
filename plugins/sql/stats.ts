// stats: SQL aggregate and window examples, in AssemblyScript with @extism/as-pdk.
// The state lives in the plug-in's globals between rows; wasmplug.sql gives
// every group (every window partition) an instance of its own.
//
//   median_step(x)       aggregate step: input = one number as decimal text
//   median_final()       output = the median as decimal text, empty (NULL) for no rows;
//                        forgets the values, ready for the next group
//   moving_avg_step(x)   window step: adds x to the frame
//   moving_avg_inverse(x) removes x (the oldest row) from the frame
//   moving_avg_value()   output = the frame's mean, empty (NULL) when the frame is empty
//   moving_avg_final()   the same, and forgets the frame
import { Host } from "@extism/as-pdk";
import { setError } from "../assemblyscript/src/common/helpers";

let values = new Array<f64>();
let sum: f64 = 0;
let count: i64 = 0;

function readNumber(name: string, out: StaticArray<f64>): bool {
  const text = String.UTF8.decode(Host.input().buffer).trim();
  const x = parseFloat(text);
  if (text.length == 0 || isNaN(x)) {
    setError(name + ": expects a number, got '" + text + "'");
    return false;
  }
  unchecked((out[0] = x));
  return true;
}

function outputNumber(x: f64): void {
  Host.output(Uint8Array.wrap(String.UTF8.encode(x.toString())));
}

const scratch = new StaticArray<f64>(1);

export function median_step(): i32 {
  if (!readNumber("median", scratch)) return 1;
  values.push(unchecked(scratch[0]));
  return 0;
}

export function median_final(): i32 {
  const n = values.length;
  if (n > 0) {
    values.sort((a: f64, b: f64): i32 => (a < b ? -1 : a > b ? 1 : 0));
    const mid = n >> 1;
    outputNumber(n & 1 ? unchecked(values[mid]) : (unchecked(values[mid - 1]) + unchecked(values[mid])) / 2);
  }
  values = new Array<f64>();
  return 0;
}

export function moving_avg_step(): i32 {
  if (!readNumber("moving_avg", scratch)) return 1;
  sum += unchecked(scratch[0]);
  count++;
  return 0;
}

export function moving_avg_inverse(): i32 {
  if (!readNumber("moving_avg", scratch)) return 1;
  sum -= unchecked(scratch[0]);
  count--;
  return 0;
}

export function moving_avg_value(): i32 {
  if (count > 0) outputNumber(sum / <f64>count);
  return 0;
}

export function moving_avg_final(): i32 {
  moving_avg_value();
  sum = 0;
  count = 0;
  return 0;
}
