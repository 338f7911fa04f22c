"""Scripted model answers for the utility-maker tests."""

from __future__ import annotations

VOWELS_CODE = """\
module.exports = function (input) {
  let count = 0;
  for (const c of input) {
    if ("aeiouAEIOU".includes(c)) count++;
  }
  return count;
};"""

VOWELS_EXAMPLES = """\
[{"input": "hello world", "output": 3},
 {"input": "AEIOU", "output": "5"},
 {"input": "rhythm", "output": 0},
 {"input": "", "output": 0}]"""

VOWELS = f"{VOWELS_CODE}\nEXAMPLES\n{VOWELS_EXAMPLES}"
VOWELS_FENCED = (f"Here is the function:\n\n```javascript\n{VOWELS_CODE}\n```\n\nEXAMPLES\n"
                 f"```json\n{VOWELS_EXAMPLES}\n```")

# Counts only lowercase vowels: fails the "AEIOU" example.
VOWELS_WRONG = VOWELS.replace('"aeiouAEIOU"', '"aeiou"')

# Not JavaScript: a missing closing brace.
INVALID_JS = ("module.exports = function (input) {\n  return input.length;\n"
              'EXAMPLES\n[{"input": "ab", "output": 2}]')
