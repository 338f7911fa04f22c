// Host functions take and return memory offsets, as in the PDK.
const { describe, decorate } = Host.getFunctions();

function run() {
  const text = Memory.fromString(Host.inputString());
  const described = Memory.find(describe(text.offset)).readString();
  const object = Memory.fromJsonObject({ name: Host.inputString(), tags: ["js"] });
  const decorated = Memory.find(decorate(object.offset)).readJsonObject();
  if (decorated.tags.length !== 2) {
    throw new Error(`decorate returned ${JSON.stringify(decorated)}`);
  }
  Host.outputString(`${described} / ${decorated.tags.join("+")}`);
}

module.exports = { run };
