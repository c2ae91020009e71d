#!/usr/bin/env python3
"""code-size.py -- the size measures of issue 23: functions over N lines and files over M
lines in src/ and generators/. Functions in tests (a `#[cfg(test)]` item and everything in
it) are not counted; a file is counted by all its lines, and also without its tests.

    scripts/code-size.py [--fn-max 80] [--file-max 600] [--list]

Prints the counts (and with --list each function and file over the limit, longest first).
A function is counted from its `fn` line to its closing brace. The scan knows Rust's comments, strings (raw ones too) and character
literals well enough for brace matching; it is a measure, not a parser.
"""
import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?((const|async|unsafe|extern\s+\"[^\"]*\")\s+)*fn\s+(\w+)")


def code_mask(text):
    """For each character: True where it is code (not in a comment, string or char)."""
    mask = [True] * len(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                mask[k] = False
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            for k in range(i, j):
                mask[k] = False
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + len(m.group(0)))
            j = n if j < 0 else j + len(close)
            for k in range(i, j):
                mask[k] = False
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            for k in range(i, min(j + 1, n)):
                mask[k] = False
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i:])
            if m:
                for k in range(i, i + len(m.group(0))):
                    mask[k] = False
                i += len(m.group(0))
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return mask


def block_end(text, mask, start):
    """Index of the `}` closing the first `{` at or after `start` (code only), or None if a
    `;` comes first (a declaration without a body)."""
    depth = 0
    for k in range(start, len(text)):
        if not mask[k]:
            continue
        if text[k] == ";" and depth == 0:
            return None
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return None


def measure(path):
    text = path.read_text(encoding="utf-8")
    mask = code_mask(text)
    line_of = [0] * (len(text) + 1)
    ln = 1
    for k, ch in enumerate(text):
        line_of[k] = ln
        if ch == "\n":
            ln += 1
    line_of[len(text)] = ln
    # test items: `#[cfg(test)]` followed by an item with a body
    test_spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        if not mask[m.start()]:
            continue
        end = block_end(text, mask, m.end())
        if end is not None:
            test_spans.append((line_of[m.start()], line_of[end]))

    def in_tests(line):
        return any(a <= line <= b for a, b in test_spans)

    fns = []
    offset = 0
    for raw in text.splitlines(keepends=True):
        m = FN.match(raw)
        if m and mask[offset + m.start(5)]:
            line = line_of[offset]
            if not in_tests(line):
                end = block_end(text, mask, offset + m.end())
                if end is not None:
                    fns.append((line_of[end] - line + 1, f"{path.relative_to(ROOT)}:{line} {m.group(5)}"))
        offset += len(raw)
    test_lines = sum(b - a + 1 for a, b in test_spans)
    return fns, text.count("\n"), text.count("\n") - test_lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fn-max", type=int, default=80)
    ap.add_argument("--file-max", type=int, default=600)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    files = sorted(list((ROOT / "src").rglob("*.rs")) + list((ROOT / "generators").rglob("*.rs")))
    long_fns, big_files, big_code, total_fns = [], [], 0, 0
    for f in files:
        fns, lines, code_lines = measure(f)
        total_fns += len(fns)
        long_fns += [x for x in fns if x[0] > a.fn_max]
        if lines > a.file_max:
            big_files.append((lines, str(f.relative_to(ROOT))))
        big_code += code_lines > a.file_max
    print(f"functions over {a.fn_max} lines outside tests: {len(long_fns)} (of {total_fns})")
    print(f"files over {a.file_max} lines in src/ and generators/: {len(big_files)} "
          f"({big_code} without their tests)")
    if a.list:
        for n, what in sorted(long_fns, reverse=True):
            print(f"  fn   {n:5} {what}")
        for n, what in sorted(big_files, reverse=True):
            print(f"  file {n:5} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
