#!/usr/bin/env python3
"""Compiles every ```cpp block of README.md, docs/*.md and examples/*/README.md.

How a block is compiled (docs/CONTRIBUTING.md, "Code blocks in the docs"):
  - a block with `int main(` is a whole program: compiled exactly as written;
  - a block with a declaration at column 0 (`#include`, a struct, a function...) is a
    translation unit: compiled after the prelude (tests/docs/snippet_prelude.hpp);
  - any other block is a fragment: compiled as the body of a function after the prelude (a
    coroutine returning floe::Task<void> if it uses co_await).
An HTML comment on the line before the block may say more:
  <!-- snippet: with client pending -->   the fragment may use these names (NAMES below)
  <!-- snippet: skip (why) -->             the block is not compiled, and is listed as skipped
A block that does not compile fails the test with its file and line (#line directives make the
compiler's own messages point into the Markdown file).
"""

import argparse
import concurrent.futures
import pathlib
import re
import subprocess
import sys
import tempfile

# The names a `with` marker provides to a fragment, as parameters of the function around it.
NAMES = {
    "node": "floe::Node& node",
    "service": "snippet::Service& service",
    "client": "snippet::Client& client",
    "server": "snippet::Server& server",
    "pending": "snippet::Pending& pending",
    "active": "snippet::Active& active",
    "request": "snippet::Client::Loan request",
    "response": "snippet::Active::Loan response",
    "runtime": "floe::Runtime& runtime",
    "value": "const TransmissionData& value",
}

MARKER = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->\s*$")
SKIP = re.compile(r"^skip \((.+)\)$")
# A line at column 0 that only a translation unit has: a directive, a type, a namespace-scope
# using, or a function definition (`type name(...) {`, `type name(...) const {`).
DECLARATION = re.compile(
    r"^(#include|struct |class |enum |template\b|namespace |using |"
    r"[A-Za-z_][\w:<>,]*(\s+[\w:<>,*&]+)*\s+[\w:~]+\(.*\)\s*(const\s*)?(noexcept\s*)?\{\s*$)"
)


class Block:
    def __init__(self, path, line, text, marker):
        self.path = path  # relative to the source directory
        self.line = line  # the first line of code, 1-based
        self.text = text
        self.marker = marker  # the marker's text, or None

    def where(self):
        return f"{self.path}:{self.line}"


def find_documents(source):
    documents = [source / "README.md"]
    documents += sorted((source / "docs").glob("*.md"))
    documents += sorted((source / "examples").glob("*/README.md"))
    return [d for d in documents if d.is_file()]


def extract_blocks(source, document):
    lines = document.read_text(encoding="utf-8").splitlines()
    relative = document.relative_to(source).as_posix()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            start = i + 1
            end = start
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if end == len(lines):
                raise SystemExit(f"{relative}:{i + 1}: ```cpp block never closed")
            previous = i - 1
            while previous >= 0 and not lines[previous].strip():
                previous -= 1
            marker = None
            if previous >= 0:
                match = MARKER.match(lines[previous].strip())
                if match:
                    marker = match.group(1)
            blocks.append(Block(relative, start + 1, "\n".join(lines[start:end]) + "\n", marker))
            i = end
        i += 1
    return blocks


def translation_unit(block, source):
    """The C++ source that compiles `block`, or raises ValueError for a bad marker."""
    names = []
    if block.marker is not None:
        words = block.marker.split()
        if not words or words[0] != "with":
            raise ValueError(
                f"unknown snippet marker '{block.marker}': 'with NAME...' or 'skip (why)'")
        for name in words[1:]:
            if name not in NAMES:
                raise ValueError(f"'with {name}': known names are {', '.join(NAMES)}")
            names.append(name)
    code = f'#line {block.line} "{source / block.path}"\n{block.text}'
    if "int main(" in block.text:
        return code
    prelude = '#include "snippet_prelude.hpp"\n'
    lines = block.text.splitlines()
    if any(DECLARATION.match(line) for line in lines):
        if names:
            raise ValueError("'with' names are for fragments; a translation unit declares its own")
        return prelude + code
    parameters = ", ".join(f"[[maybe_unused]] {NAMES[n]}" for n in names)
    if "co_await" in block.text:
        return f"{prelude}floe::Task<void> snippet_body({parameters}) {{\n{code}co_return;\n}}\n"
    return f"{prelude}void snippet_body({parameters}) {{\n{code}}}\n"


def compile_block(block, unit, arguments, directory):
    file = directory / (re.sub(r"\W", "_", block.where()) + ".cpp")
    file.write_text(unit, encoding="utf-8")
    result = subprocess.run(
        arguments + ["-fsyntax-only", str(file)], capture_output=True, text=True, check=False
    )
    return result.returncode == 0, result.stdout + result.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True, type=pathlib.Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("compiler", nargs=argparse.REMAINDER,
                        help="-- then the compiler and its flags (-std, -I...)")
    options = parser.parse_args()
    compiler = [a for a in options.compiler if a != "--"]
    if not compiler:
        parser.error("give the compiler after --")
    source = options.source_dir.resolve()
    here = pathlib.Path(__file__).resolve().parent
    arguments = compiler + [
        f"-I{here}",
        f"-I{source / 'include'}",
        f"-I{source / 'examples' / 'request_response'}",
        # A snippet may declare a variable only to show its type.
        "-Wno-unused-variable",
        "-Wno-unused-but-set-variable",
    ]

    blocks = [b for d in find_documents(source) for b in extract_blocks(source, d)]
    if not blocks:
        print(f"no ```cpp block found under {source}: is --source-dir floe's root?")
        return 1
    skipped = [b for b in blocks if b.marker is not None and SKIP.match(b.marker)]
    failures = []
    jobs = []
    with tempfile.TemporaryDirectory(prefix="floe-snippets-") as scratch, \
            concurrent.futures.ThreadPoolExecutor(max_workers=options.jobs) as pool:
        for block in blocks:
            if block in skipped:
                continue
            try:
                unit = translation_unit(block, source)
            except ValueError as error:
                failures.append((block, str(error)))
                continue
            jobs.append((block, pool.submit(compile_block, block, unit, arguments,
                                            pathlib.Path(scratch))))
        for block, job in jobs:
            compiled, output = job.result()
            if not compiled:
                failures.append((block, output))

    for block, output in failures:
        print(f"{block.where()}: error: this ```cpp block does not compile\n{output}")
    for block in skipped:
        print(f"{block.where()}: skipped: {SKIP.match(block.marker).group(1)}")
    compiled = len(blocks) - len(skipped) - len(failures)
    print(f"{len(blocks)} cpp blocks in {len(find_documents(source))} documents: "
          f"{compiled} compiled, {len(failures)} failed, {len(skipped)} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
