"""A cold `site` build's shortcuts change no byte: workers, shared formatting, diff order.

The site built by worker processes equals the one built in this process, file for file;
every redline page holds exactly what a fresh compare of its two texts renders (no cache,
no memo); a formatting memo shared by every pair changes no report; the order the pairs
are diffed in reuses the engine's parses.
"""

from __future__ import annotations

import itertools
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from helpers import CORPUS as SHARED_CORPUS
from helpers import run_cli
from policydiff.core.errors import UsageError
from policydiff.engine import compare
from policydiff.engine.compare import compare_texts
from policydiff.engine.history import Timeline
from policydiff.engine.report import CompareReport, View, side_from_version
from policydiff.publish import site as site_module
from policydiff.publish.render.html import RenderMemo, render_parts
from policydiff.publish.site import ALL_PAIRS_MAX, MANIFEST, _diff_order, build_site
from policydiff.store.gitstore import GitStore, init_store
from test_blame import DATES, snapshot, story_texts

START_WORKERS = site_module._start_workers
CORPUS = Path(os.environ.get("POLICYDIFF_CORPUS", SHARED_CORPUS))
LONG = "acme/terms"
HOSTILE = "hostile/policy"

SECTIONS = {
    "Data": "We collect your **name** and [email](https://example.com/e).\n",
    "Sharing": "We share data with:\n\n* partners\n* advertisers\n* *affiliates*\n",
    "Retention": "| Data | Kept |\n| --- | --- |\n| logs | 30 days |\n| mail | 1 year |\n",
    "Rights": "You may ask for a copy. Write to `privacy@example.com`.\n",
    "Children": "Our services are not for children under 13.\n",
}


def long_texts() -> list[str]:
    """Eight versions of a policy, each changing one section (a table, a list, a move)."""
    sections = dict(SECTIONS)
    texts = []
    edits = [
        ("Data", "We collect your **full name** and [email](https://example.com/e).\n"),
        ("Retention", "| Data | Kept |\n| --- | --- |\n| logs | 90 days |\n| mail | 1 year |\n"),
        ("Sharing", "We share data with:\n\n* partners\n* *affiliates*\n"),
        ("Rights", "You may ask for a copy \u2014 write to `privacy@example.com`.\n"),
        ("Children", "Our services are not for children under 16.\n"),
        ("Data", "We collect your \u201cfull name\u201d and [email](https://example.com/e).\n"),
    ]
    order = list(sections)
    for step in range(8):
        if 1 <= step <= len(edits):
            name, body = edits[step - 1]
            sections[name] = body
        if step == 7:
            order.insert(0, order.pop(order.index("Children")))  # moved up
        texts.append("# Terms\n\n" + "\n".join(f"## {name}\n\n{sections[name]}" for name in order))
    return texts


def make_store(path: Path) -> GitStore:
    """A store of three policies: the blame story, eight versions of terms, hostile text."""
    store = GitStore(init_store(path))
    store.record(
        snapshot(text, day, technical=number == 5)
        for number, (text, day) in enumerate(zip(story_texts(), DATES, strict=True), start=1)
    )
    days = [f"2021-{month:02d}-01" for month in range(1, 9)]
    store.record(
        snapshot(text, day, policy=LONG) for text, day in zip(long_texts(), days, strict=True)
    )
    hostile = "# Hostile\n\n## A\n\n<script>x</script> \u202e evil \x1b[31m\n"
    store.record([snapshot(hostile, "2020-01-01", policy=HOSTILE)])
    store.record([snapshot(hostile + "\n## B\n\nmore \u2066\n", "2020-02-01", policy=HOSTILE)])
    return store


def corpus_store(path: Path) -> GitStore | None:
    """A store of two small corpus documents' versions (None without the corpus)."""
    documents = ["deepseek/privacy-policy", "twitch/privacy-policy"]
    if not all((CORPUS / document).is_dir() for document in documents):
        return None
    store = GitStore(init_store(path))
    for document in documents:
        for file in sorted((CORPUS / document).glob("*.md")):
            text = file.read_text(encoding="utf-8")
            store.record([snapshot(text, file.stem, policy=document)])
    return store


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


class CountingPool:
    """How many worker pools were started."""

    started = 0


def counting_workers(jobs: int) -> ProcessPoolExecutor:
    """Start workers as the site does, counting them."""
    CountingPool.started += 1
    return START_WORKERS(jobs)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | None]:
    """The stores, made once: each test works on a copy."""
    folder = tmp_path_factory.mktemp("stores")
    corpus = corpus_store(folder / "corpus")
    return {
        "synthetic": make_store(folder / "synthetic").path,
        "corpus": corpus.path if corpus is not None else None,
    }


@pytest.fixture(params=["synthetic", pytest.param("corpus", marks=pytest.mark.corpus)])
def store(request: pytest.FixtureRequest, made: dict[str, Path | None], tmp_path: Path) -> GitStore:
    """A store no site was built from yet (no remembered diffs or pages)."""
    source = made[request.param]
    if source is None:
        pytest.skip(f"no corpus at {CORPUS}")
    shutil.copytree(source, tmp_path / "store")
    return GitStore(tmp_path / "store")


def test_workers_build_the_same_site(
    store: GitStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two worker processes write every file exactly as one process does, cold and again."""
    shutil.copytree(store.path, tmp_path / "twin")
    twin = GitStore(tmp_path / "twin")
    monkeypatch.setattr(site_module, "_start_workers", counting_workers)
    CountingPool.started = 0
    alone = build_site(store, tmp_path / "alone", store.policies(), jobs=1)
    assert CountingPool.started == 0
    shared = build_site(twin, tmp_path / "shared", twin.policies(), jobs=2)
    assert CountingPool.started == 1
    assert alone == shared
    assert files(tmp_path / "alone") == files(tmp_path / "shared")
    # The workers remembered what they built: a re-run reads it back, starting none.
    again = build_site(GitStore(twin.path), tmp_path / "shared", twin.policies(), jobs=2)
    assert (again.written, CountingPool.started) == (0, 1)


def test_jobs_option_sets_the_workers_and_changes_no_page(
    made: dict[str, Path | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`site --jobs 1` builds in this process, `--jobs 2` in workers: the same files."""
    source = made["synthetic"]
    assert source is not None
    monkeypatch.setattr(site_module, "_start_workers", counting_workers)
    CountingPool.started = 0
    outputs = {}
    for jobs in (1, 2):
        copy = tmp_path / f"store{jobs}"
        shutil.copytree(source, copy)
        out = tmp_path / f"site{jobs}"
        result = run_cli(["--store", str(copy), "site", "-q", "--jobs", str(jobs), str(out)])
        assert (result.exit_code, result.stderr) == (0, "")
        assert CountingPool.started == jobs - 1
        outputs[jobs] = files(out)
    assert outputs[1] == outputs[2]
    for bad in ("0", "33", "two"):
        refused = run_cli(["--store", str(source), "site", "--jobs", bad, str(tmp_path / bad)])
        assert refused.exit_code == 2
        assert refused.stderr.startswith("Error:")
        assert refused.stderr.count("\n") == 1
        assert not (tmp_path / bad).exists()


def test_redlines_equal_a_fresh_compare(store: GitStore, tmp_path: Path) -> None:
    """Every redline page holds what compare renders for its two texts, nothing reused."""
    build_site(store, tmp_path / "out", store.policies())
    checked = 0
    for policy in store.policies():
        versions = store.versions(policy)
        for old, new in itertools.combinations(versions, 2):
            page = (
                tmp_path / "out" / "policies" / policy / "diffs" / f"{old.number}-{new.number}.html"
            )
            if not page.exists():
                continue
            compare.clear_caches()
            diff = compare_texts(store.text(old), store.text(new))
            report = CompareReport(side_from_version(old), side_from_version(new), diff)
            assert render_parts(report, View()).body in page.read_text(encoding="utf-8")
            checked += 1
    assert checked >= 2 * ALL_PAIRS_MAX


def test_a_shared_memo_changes_no_report(store: GitStore) -> None:
    """Rendering every pair of a policy with one memo gives each report as rendered alone."""
    for policy in store.policies():
        timeline = Timeline(store, policy)
        memo = RenderMemo()
        for old, new in itertools.combinations(timeline.versions, 2):
            report = CompareReport(
                side_from_version(old), side_from_version(new), timeline.diff(old, new)
            )
            assert render_parts(report, View(), memo=memo) == render_parts(report, View())
        assert memo.pieces or len(timeline.versions) < 2


@pytest.mark.parametrize("count", range(2, 10))
def test_diff_order_parses_each_text_about_once(tmp_path: Path, count: int) -> None:
    """The pairs' order is a permutation that parses at most two texts more than there are."""
    store = GitStore(init_store(tmp_path / "store"))
    days = [f"2021-{month:02d}-01" for month in range(1, 10)]
    store.record(
        snapshot(text + f"\nRevision {number}.\n", day, policy=LONG)
        for number, (text, day) in enumerate(zip(long_texts() * 2, days[:count], strict=False))
    )
    timeline = Timeline(store, LONG)
    versions = timeline.versions
    wanted = (
        list(itertools.combinations(versions, 2))
        if count <= ALL_PAIRS_MAX
        else [
            (a, b)
            for a, b in itertools.combinations(versions, 2)
            if b.number in {a.number + 1, count}
        ]
    )
    order = _diff_order(wanted)
    assert sorted(order, key=lambda p: (p[0].number, p[1].number)) == wanted
    for version in versions:
        timeline.text(version)
    compare._analyse.cache_clear()
    for old, new in order:
        compare_texts(timeline.text(old), timeline.text(new))
    assert compare._analyse.cache_info().misses <= count + 2


def test_one_policy_to_build_starts_no_workers(
    made: dict[str, Path | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-run with one policy changed builds it here: workers would cost more than it."""
    store = GitStore(Path(shutil.copytree(made["synthetic"] or "", tmp_path / "store")))
    build_site(store, tmp_path / "out", store.policies(), jobs=2)
    monkeypatch.setattr(site_module, "_start_workers", counting_workers)
    CountingPool.started = 0
    text = long_texts()[-1] + "\n## Contact\n\nWrite to us.\n"
    store.record([snapshot(text, "2021-10-01", policy=LONG)])
    shutil.copytree(store.path, tmp_path / "twin")
    shutil.rmtree(tmp_path / "twin" / ".git" / "policydiff")  # nothing remembered
    report = build_site(GitStore(store.path), tmp_path / "out", store.policies(), jobs=2)
    assert CountingPool.started == 0
    assert report.written > 0
    twin = GitStore(tmp_path / "twin")
    build_site(twin, tmp_path / "cold", twin.policies(), jobs=1)
    assert files(tmp_path / "out") == files(tmp_path / "cold")


def test_a_template_failing_in_a_worker_fails_the_build(
    made: dict[str, Path | None], tmp_path: Path
) -> None:
    """A store template refused in a worker is refused as in one process; nothing is written."""
    store = GitStore(Path(shutil.copytree(made["synthetic"] or "", tmp_path / "store")))
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "diff.html.j2").write_text("<p>{{ redline }}</p>", encoding="utf-8")
    messages = []
    for jobs in (1, 2):
        with pytest.raises(UsageError) as refused:
            build_site(
                GitStore(store.path), tmp_path / f"out{jobs}", store.policies(),
                template_dir=folder, jobs=jobs,
            )  # fmt: skip
        messages.append(str(refused.value))
        assert not (tmp_path / f"out{jobs}" / MANIFEST).exists()
    assert messages[0] == messages[1]
    assert "{{ csp }}" in messages[0]


def test_a_rerun_restores_pages_changed_on_disk(
    made: dict[str, Path | None], tmp_path: Path
) -> None:
    """Remembered pages are compared by digest: one edited or removed is written again."""
    store = GitStore(Path(shutil.copytree(made["synthetic"] or "", tmp_path / "store")))
    build_site(store, tmp_path / "out", store.policies())
    before = files(tmp_path / "out")
    edited = tmp_path / "out" / "policies" / LONG / "diffs" / "1-8.html"
    edited.write_bytes(edited.read_bytes().replace(b"</body>", b"<p>edited</p></body>"))
    (tmp_path / "out" / "policies" / LONG / "versions" / "3.html").unlink()
    same_size = tmp_path / "out" / "policies" / HOSTILE / "index.html"
    same_size.write_bytes(same_size.read_bytes().replace(b"<body>", b"<BODY>"))
    report = build_site(GitStore(store.path), tmp_path / "out", store.policies())
    assert report.written == 3
    assert files(tmp_path / "out") == before
