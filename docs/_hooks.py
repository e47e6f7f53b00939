"""MkDocs hooks: pages made from files that live outside ``docs/``.

- ``benchmarks.md``: the marker ``<!-- benchmark-results -->`` becomes every
  table under ``benchmarks/results/*.md`` (known ones first, in a fixed order,
  then any new ones by name; not ``results/archive/``), each under a heading
  whose anchor is the file's stem (``benchmarks.md#paper_table_10seeds``), and
  PNG figures there are published with the site. A results file added later
  (``paper_table.md``) shows up without editing the docs.
- ``examples/notebook.md``: the marker ``<!-- notebook: PATH -->`` becomes the
  committed notebook at PATH (cells, text outputs and PNG plots), so the page
  shows exactly what CI executes.

Everything is read from the working tree; nothing is fetched or executed.
"""

import json
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULTS_URI = "benchmarks/results"

# (file, section title), in the order the page shows them.
KNOWN_RESULTS = [
    ("teacher_zoo.md", "Teacher zoo: everyday teachers on raw tables, three ways"),
    ("frames.md", "DataFrame teachers: five kinds on four mixed-type tables"),
    ("paper_table.md", "Paper results table"),
    (
        "paper_table_10seeds.md",
        "Paper results table, 10 seeds (bounded gap, ours, ceiling)",
    ),
    (
        "paper_table_amx_highdim.md",
        "Paper table, 384-feature check, 10 seeds (bounded gap, ours; Intel AMX)",
    ),
    (
        "noise_features.md",
        "The teacher's noise inputs: which features the student averages over",
    ),
    (
        "ablation_noise_features.md",
        "Ablation: averaging over the teacher's noise inputs, 10 seeds",
    ),
    ("learning_curves.md", "Learning curves: fidelity against queries and seconds"),
    ("paper_table_ablation.md", "Ablation of the defaults on the paper's teachers"),
    (
        "paper_table_ablation_highdim.md",
        "Ablation on the synthetic 384-feature check",
    ),
    (
        "paper_table_ablation_ascent_steps.md",
        "Ablation: one query-ascent step instead of two",
    ),
    (
        "ablation_student_init.md",
        "Ablation: the student started from the teacher's first layer, 10 seeds",
    ),
    (
        "ablation_student_init_highdim.md",
        "Ablation: the student's start on the 384-feature check",
    ),
    (
        "ablation_initial_queries.md",
        "Ablation: the start's queries train the student too, 10 seeds",
    ),
    (
        "ablation_batch_size.md",
        "Ablation: batches of 512 against 256, and fewer queries, 10 seeds",
    ),
    (
        "ablation_batch_size_highdim.md",
        "Ablation: batches of 512 against 256 on the 384-feature check",
    ),
    (
        "where_it_loses.md",
        "Where the data-free student loses: test rows by how far out they lie",
    ),
    (
        "weight_averaging.md",
        "Tried, not kept: moving averages of the student's weights",
    ),
    (
        "ablation_query_distribution.md",
        "Tried, not kept: the base queries' scale mixture and the ascent retuned",
    ),
    (
        "ablation_query_distribution_highdim.md",
        "Tried, not kept: the scale mixture on the 384-feature check, 10 seeds",
    ),
    (
        "ablation_budget.md",
        "Ablation: 1.5 and 2 times the query budget, 10 seeds",
    ),
    (
        "ablation_alpha.md",
        "Tried, not kept: fewer ascending queries and a narrower mixture, 10 seeds",
    ),
    (
        "ascent_precision.md",
        "Ablation: the gap ascent in bfloat16 against float32, 10 seeds",
    ),
    ("ascent_cost.md", "What a round's gap ascent costs in float32 and bfloat16"),
    (
        "ablation_warmup.md",
        "Ablation: a learning-rate warm-up over the first 3% of rounds, 10 seeds",
    ),
    ("black_box.md", "Black-box teachers: query options per teacher query"),
    ("threads.md", "Torch threads during fit"),
    ("step_cost.md", "What a student step costs, and where a fit's seconds go"),
    ("step_cost_highdim.md", "Where a fit's seconds go on the 384-feature check"),
    ("tree_throughput.md", "Tree-ensemble teachers: predict vs hummingbird"),
    ("memory.md", "Peak memory against the budget"),
]

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def on_files(files, config):
    for png in sorted(RESULTS.glob("*.png")):
        files.append(
            File(
                f"{RESULTS_URI}/{png.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


def on_page_markdown(markdown, page, config, files):
    if "<!-- benchmark-results -->" in markdown:
        depth = page.file.src_uri.count("/")
        markdown = markdown.replace(
            "<!-- benchmark-results -->", _benchmark_results("../" * depth)
        )
    match = re.search(r"<!-- notebook: (\S+) -->", markdown)
    if match:
        markdown = markdown.replace(match.group(0), _notebook(ROOT / match.group(1)))
    return markdown


# -- benchmark tables ---------------------------------------------------------
def _benchmark_results(prefix):
    titles = dict(KNOWN_RESULTS)
    present = {p.name for p in RESULTS.glob("*.md")}
    names = [name for name, _ in KNOWN_RESULTS if name in present]
    names += sorted(present - set(names))
    referenced = set()
    sections = []
    for name in names:
        text = (RESULTS / name).read_text(encoding="utf-8").strip()
        title = titles.get(name)
        first, _, rest = text.partition("\n")
        if first.startswith("# "):  # the file's own title
            title = title or first[2:].strip()
            text = rest.strip()
        title = title or Path(name).stem.replace("_", " ").capitalize()
        text = _rewrite_links(text, prefix, referenced)
        # The file's own headings sit below the section heading (level 3 on).
        levels = [len(h) for h in re.findall(r"^(#+) ", text, flags=re.MULTILINE)]
        if levels:
            shift = "#" * max(0, 3 - min(levels))
            text = re.sub(r"^(#+) ", rf"\1{shift} ", text, flags=re.MULTILINE)
        anchor = Path(name).stem
        sections.append(
            f"## {title} {{#{anchor}}}\n\nFrom `benchmarks/results/{name}`.\n\n{text}\n"
        )
    figures = [
        p.name for p in sorted(RESULTS.glob("*.png")) if p.name not in referenced
    ]
    if figures:
        sections.append(
            "## Figures\n\n"
            + "\n\n".join(
                f"![{name}]({prefix}{RESULTS_URI}/{name})" for name in figures
            )
            + "\n"
        )
    return "\n".join(sections)


def _rewrite_links(text, prefix, referenced):
    """Point relative PNG links at the published copies; unlink the rest."""

    def replace(match):
        bang, label, target = match.groups()
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            return match.group(0)
        name = Path(target).name
        if target.endswith(".png") and (RESULTS / name).exists():
            referenced.add(name)
            return f"{bang}[{label}]({prefix}{RESULTS_URI}/{name})"
        return f"{label} (`benchmarks/results/{target}`)" if bang else label

    return _LINK.sub(replace, text)


# -- notebook -------------------------------------------------------------------
def _notebook(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"]).strip()
        if cell["cell_type"] == "markdown":
            parts.append(source)
            continue
        if cell["cell_type"] != "code" or not source:
            continue
        parts.append(f"```python\n{source}\n```")
        for output in cell.get("outputs", []):
            parts.extend(_output(output))
    return "\n\n".join(parts) + "\n"


def _output(output):
    kind = output["output_type"]
    if kind == "stream":
        if output.get("name") == "stderr":
            return []  # warnings and progress bars
        return [_text_block(output["text"])]
    if kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        if "image/png" in data:
            png = "".join(data["image/png"]).replace("\n", "")
            return [f'<img alt="plot" src="data:image/png;base64,{png}">']
        if "text/html" in data and "<table" in "".join(data["text/html"]):
            return ["".join(data["text/html"])]  # a DataFrame
        if "text/plain" in data:
            return [_text_block(data["text/plain"])]
    if kind == "error":
        raise ValueError("the committed notebook has an error output")
    return []


def _text_block(text):
    text = "".join(text) if isinstance(text, list) else text
    return f"```text\n{text.rstrip()}\n```"
