// count_vowels in the JS PDK style (CommonJS): the input's vowel count as JSON.
function count_vowels() {
  const text = Host.inputString();
  let count = 0;
  for (const ch of text) {
    if ("aeiouAEIOU".includes(ch)) count++;
  }
  Host.outputString(JSON.stringify({ count, total: count, vowels: "aeiouAEIOU" }));
}

function noop() {
  return 0;
}

module.exports = { count_vowels, noop };
