#!/usr/bin/env python3
"""Writes the natgw(1) man page from the built binary's own --help output.

Usage: scripts/man-page.py NATGW_BINARY OUTPUT.1

The text comes from the same source as `natgw --help` (the CLI11 definitions in src/cli/): the
top-level help, then `natgw CMD --help` for every command listed under "Subcommands:", recursively
(hidden commands are not listed, so they stay out). Nothing is written by hand here; this script
only turns CLI11's layout into roff:

  description lines, then "Usage: ..."  -> NAME, SYNOPSIS, DESCRIPTION (top level)
                                           or a COMMANDS subsection per command
  "Options:", "Positionals:", ...        -> tagged paragraphs (.TP), one per entry
  "Subcommands:"                         -> the command list (each gets its own subsection)
  footer blocks of the top level headed "Examples:", "Files:", ... -> sections of those names
  other footer lines                     -> paragraphs, line breaks kept

The date is $SOURCE_DATE_EPOCH when set (reproducible builds), else today. Build: the natgw_man
target of cmake/Packaging.cmake runs this after every link of natgw.
"""
import datetime
import os
import re
import subprocess
import sys

ENTRY_COLUMN_GAP = re.compile(r"\s{2,}")


def run_help(binary, path):
    out = subprocess.run([binary, *path, "--help"], check=True, capture_output=True, text=True).stdout
    return out.rstrip("\n").split("\n")


def esc(text):
    """Roff-escapes running text: backslashes, hyphens (so options copy and paste), and a leading
    dot or apostrophe (a request otherwise)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def parse(lines):
    """One command's help: (description lines, usage, sections, footer blocks).
    sections: [(title, [(term, description)])]; footer: [(title or None, lines)]."""
    i = 0
    description = []
    while i < len(lines) and not lines[i].startswith("Usage:"):
        if lines[i].strip():
            description.append(lines[i].strip())
        i += 1
    usage = lines[i][len("Usage:"):].strip() if i < len(lines) else ""
    i += 1
    # The rest: blocks separated by blank lines.
    blocks, current = [], []
    for line in lines[i:]:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)

    sections, footer = [], []
    for block in blocks:
        head = block[0]
        titled = re.fullmatch(r"\S.*:", head) is not None and len(block) > 1 and all(
            l.startswith("  ") for l in block[1:])
        # CLI11's own sections come before the footer: Positionals, Options (or an option group,
        # ->group("Name"), whose entries are options) and Subcommands.
        help_section = titled and not footer and (
            head[:-1] in ("Options", "Positionals", "Subcommands") or _option_entries(block[1:]))
        if help_section:
            sections.append((head[:-1], entries(block[1:])))
        else:
            footer.append((head[:-1], block[1:]) if titled else (None, block))
    return description, usage, sections, footer


def _option_entries(lines):
    return all(l.startswith("  -") or l.startswith("    ") for l in lines)


def entries(lines):
    """CLI11 lists "  TERM<2+ spaces>DESCRIPTION", or TERM alone with the description on the next,
    more indented line(s)."""
    out = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        text = line.strip()
        if indent <= 2 or not out:
            parts = ENTRY_COLUMN_GAP.split(text, maxsplit=1)
            out.append([parts[0], parts[1] if len(parts) > 1 else ""])
        else:
            out[-1][1] = (out[-1][1] + " " + text).strip()
    return [tuple(e) for e in out]


def term_roff(term):
    """Option names bold, the rest (type, default, REQUIRED) as it is."""
    if term.startswith("-"):
        names, _, rest = term.partition(" ")
        return "\\fB" + esc(names) + "\\fR" + (" " + esc(rest) if rest else "")
    return "\\fB" + esc(term) + "\\fR"


def tagged(items, out, skip_help=False):
    for term, desc in items:
        if skip_help and term.startswith("-h,--help"):
            continue
        out += [".TP", term_roff(term), esc(desc) if desc else ""]


def paragraph(lines, out):
    """Footer text. A line starts a new output line when it looks like one (indented, a command,
    "Heading: ...", or after a sentence or heading ended); otherwise it continues a sentence
    wrapped in the source, and roff fills it."""
    out.append(".PP")
    for n, line in enumerate(lines):
        if n and (line.startswith(" ") or line.startswith("natgw ") or re.match(r"[A-Z][A-Za-z ]{0,30}:", line)
                  or lines[n - 1].rstrip().endswith((".", ":", ";"))):
            out.append(".br")
        out.append(esc(line.strip()))


def footer_section(title, lines, out):
    """A top-level footer block with a heading: entries at two spaces of indent are tags, deeper
    lines their text."""
    items = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if indent <= 2 or not items:
            items.append([line.strip(), []])
        else:
            items[-1][1].append(line.strip())
    for term, text in items:
        out += [".TP", "\\fB" + esc(term) + "\\fR", esc(" ".join(text))]


def command(binary, path, out, synopsis):
    description, usage, sections, footer = parse(run_help(binary, path))
    out.append('.SS "' + esc("natgw " + " ".join(path)) + '"')
    out.append(esc(" ".join(description)))
    synopsis.append(usage)
    out += [".PP", "Usage: " + esc(usage)]
    children = []
    for title, items in sections:
        if title == "Subcommands":
            children = [term for term, _ in items]
            out += [".PP", "Commands: " + ", ".join("\\fB" + esc(c) + "\\fR" for c in children) + "."]
        elif [t for t, _ in items if not t.startswith("-h,--help")]:
            out += [".PP", "\\fI" + esc(title) + ":\\fR"]
            tagged(items, out, skip_help=True)
    for title, lines in footer:
        paragraph(([title + ":"] if title else []) + lines, out)
    for child in children:
        command(binary, path + [child], out, synopsis)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: man-page.py NATGW_BINARY OUTPUT.1")
    binary, output = sys.argv[1], sys.argv[2]
    version = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(
        datetime.timezone.utc)

    description, usage, sections, footer = parse(run_help(binary, []))
    summary = " ".join(description)
    summary = re.sub(r"^natgw:\s*", "", summary)

    body, synopsis = [], []
    commands = []
    options = []
    for title, items in sections:
        if title == "Subcommands":
            commands = items
        else:
            options += items
    for name, _ in commands:
        command(binary, [name], body, synopsis)

    out = [
        '.\\" Generated by scripts/man-page.py from the output of `natgw --help` and every',
        '.\\" `natgw COMMAND --help`. Do not edit: change the help texts in src/cli/ instead.',
        '.TH NATGW 1 "%s" "%s" "User Commands"' % (when.strftime("%Y-%m-%d"), esc(version)),
        # Left-aligned, no hyphenation: commands and options stay as typed.
        ".ad l",
        ".nh",
        ".SH NAME",
        "natgw \\- " + esc(summary),
        ".SH SYNOPSIS",
    ]
    for n, u in enumerate([usage] + synopsis):
        if n:
            out.append(".br")
        prog, _, args = u.partition(" ")
        words = args.split(" ")
        # "natgw lab up [OPTIONS]": the command words bold, the rest as usage shows it.
        k = 0
        while k < len(words) and re.fullmatch(r"[a-z][a-z0-9-]*", words[k]):
            k += 1
        out.append("\\fB" + esc(" ".join([prog] + words[:k])) + "\\fR " + esc(" ".join(words[k:])))
    out += [".SH DESCRIPTION", esc(" ".join(description)) + "."]
    titled = [(t, l) for t, l in footer if t]
    for title, lines in footer:
        if not title:
            paragraph(lines, out)
    out.append(".SH OPTIONS")
    tagged(options, out)
    out.append(".SH COMMANDS")
    tagged(commands, out)
    out += body
    for title, lines in titled:
        out.append(".SH " + esc(title.upper()))
        footer_section(title, lines, out)
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
