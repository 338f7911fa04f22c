// Errors the PDK's try-catch, exception and async_exception examples are about.
const handlers = {
  fail: async () => {
    console.log("in the async handler");
    throw new Error("from the handler");
  },
};

async function runHandler() {
  try {
    await handlers.fail();
  } catch (error) {
    console.log("handled:", error.message);
    Var.set("handled", error.message);
  }
}

function catches() {
  runHandler();
}

function throws() {
  throw new Error("a plain JS exception");
}

function notAwaited() {
  const pending = Promise.resolve({ render: () => "never" });
  try {
    return pending.render();  // a promise, used as if it had been awaited
  } catch (error) {
    console.log("error:", error.message);
    throw error;
  }
}

function handled() {
  return Var.getString("handled") || "nothing";
}

module.exports = { catches, throws, notAwaited, handled };
