.globaltype __stack_pointer, i32
.globl wasmplug_stack_get
wasmplug_stack_get:
  .functype wasmplug_stack_get() -> (i32)
  global.get __stack_pointer
  end_function
.globl wasmplug_stack_set
wasmplug_stack_set:
  .functype wasmplug_stack_set(i32) -> ()
  local.get 0
  global.set __stack_pointer
  end_function
