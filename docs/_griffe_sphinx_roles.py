"""Griffe extension: the Sphinx parts of numpydoc docstrings become Markdown.

The docstrings follow numpydoc and scikit-learn, so they cross-reference with
Sphinx roles (``:class:`BoundedGapQueries```, ``:func:`~sklearn.base.clone```).
mkdocstrings renders Markdown, where those would show up literally. This turns
each role into a cross-reference when it names a documented object of this
package (an autorefs link, checked by ``mkdocs build --strict``) and into inline
code otherwise (other projects' objects: the build is offline, so no
inventories are fetched). "See Also" entries (``name : description``) become
a list of such links, and ``.. [1]`` citations under "References" a numbered
list.
"""

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|obj|data|exc|term):`([^`]+)`")
_PACKAGE = "skdistill"


def _documented(obj):
    """Whether the API pages render ``obj`` (public, with a docstring)."""
    try:
        obj = obj.final_target if obj.is_alias else obj
    except griffe.AliasResolutionError:
        return False
    return obj.docstring is not None and not obj.name.startswith("_")


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg, **kwargs):
        if pkg.name != _PACKAGE:
            return
        public = set(pkg.exports or [])
        for obj in _walk(pkg):
            if obj.docstring is None:
                continue
            text = _ROLE.sub(
                lambda m, obj=obj: _replace(m.group(1), obj, pkg, public),
                obj.docstring.value,
            )
            text = _sections(text, obj, pkg, public)
            obj.docstring.value = text


def _walk(obj):
    yield obj
    for member in obj.members.values():
        if member.is_alias or member.is_attribute:
            continue
        if member.is_module or member.is_class or member.is_function:
            yield from _walk(member)


def _replace(text, obj, pkg, public):
    # "title <target>" keeps its title; "~a.b.C" shows only "C".
    match = re.fullmatch(r"(.*?)\s*<([^>]+)>", text)
    if match:
        title, target = match.groups()
    else:
        target = text.lstrip("~")
        title = target.rsplit(".", 1)[-1] if text.startswith("~") else target
    path = _resolve(target, obj, pkg, public)
    if path is None:
        return f"`{title}`"
    return f"[`{title}`][{path}]"


def _resolve(target, obj, pkg, public):
    """The public path of a documented object of this package, or None."""
    if target.startswith(_PACKAGE + "."):
        target = target[len(_PACKAGE) + 1 :]
    candidates = []
    head = target.split(".", 1)[0]
    if head in public:
        candidates.append(target)
    # A bare member name inside a class's docstrings ("score", "fit").
    owner = obj if obj.is_class else obj.parent
    if owner is not None and owner.is_class and owner.name in public:
        candidates.append(f"{owner.name}.{target}")
    for candidate in candidates:
        try:
            found = pkg[candidate]
        except (KeyError, griffe.AliasResolutionError):
            continue
        if _documented(found):
            return f"{_PACKAGE}.{candidate}"
    return None


def _sections(text, obj, pkg, public):
    """Rewrite the "See Also" and "References" sections' bodies."""
    lines = text.split("\n")
    out, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            section = line.strip()
            out += [line, lines[i + 1]]
            i += 2
            continue
        if section == "See Also":
            match = re.fullmatch(r"([\w.~]+)\s*:\s*(.*)", line)
            if match:
                name, description = match.groups()
                out.append(f"- {_replace(name, obj, pkg, public)}: {description}")
            elif re.fullmatch(r"[\w.~]+(, *[\w.~]+)*", line.strip()):
                names = [n.strip() for n in line.split(",")]
                out.append(
                    "- " + ", ".join(_replace(n, obj, pkg, public) for n in names)
                )
            elif line.startswith(" ") and out and out[-1].startswith("- "):
                out[-1] += " " + line.strip()  # a description's continuation
            else:
                out.append(line)
        elif section == "References":
            match = re.fullmatch(r"\.\. \[(\w+)\]\s*(.*)", line)
            if match:
                out.append(f"{match.group(1)}. {match.group(2)}")
            elif line.startswith(" ") and out and re.match(r"\w+\. ", out[-1]):
                out[-1] += " " + line.strip()
            else:
                out.append(line)
        else:
            out.append(line)
        i += 1
    return "\n".join(out)
