"""The pages without a browser: the artifact registry and the two commands, a tampered
certificate shown as no claim, the offline guarantees of a page, the conformance
tests the op panel cites, and the notebook representations."""

import ast
import json
import shutil
from pathlib import Path

import numpy as np

from certnn.bounds import Region, compute_bounds
from certnn.interop.checkpoint import load_graph
from certnn.tensor import Tensor
from certnn.verify.certificate import load_certificate
from certnn.widgets import report
from certnn.widgets.bounds import compare_methods
from certnn.widgets.certificates import certificate_view
from certnn.widgets.ops_info import CONFORMANCE
from certnn.widgets.page import View, to_json

ROOT = Path(__file__).resolve().parents[2]


def _cli(capsys, *args):
    """(exit status, stderr) of ``certnn ARGS``, run in-process (a subprocess would re-import everything)."""
    from certnn.cli import main
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def _cert(run_dir):
    return min((run_dir / "certificates").rglob("cert-*.json"))


def test_view_and_report_commands(run_dir, tmp_path, capsys):
    code, err = _cli(capsys, "view", _cert(run_dir), "--out", tmp_path / "cert.html")
    assert code == 0, err
    html = (tmp_path / "cert.html").read_text()
    assert 'class="verdict ok"' in html and "Proved (checker):" in html
    code, err = _cli(capsys, "report", run_dir, "--out", tmp_path / "r.html", "--no-tape", "--no-bounds")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    for anchor in ('id="graph"', 'id="certificates"', 'id="training"', 'id="error-budget"', 'id="cert-0"'):
        assert anchor in html
    (tmp_path / "notes.json").write_text('{"a": 1}')
    (tmp_path / "cut.json").write_text('{"format": "certnn-certif')
    for args, words in ((("view", tmp_path / "notes.json"), "not a certnn artifact"),
                        (("view", tmp_path / "missing.json"), "no such file"),
                        (("view", tmp_path / "cut.json"), "not valid JSON"),
                        (("report", tmp_path / "notes.json"), "not a folder"),
                        (("report", tmp_path / "empty"), "no such folder")):
        code, err = _cli(capsys, *args, "--out", tmp_path / "x.html")
        assert code == 1 and err.startswith("error: ") and words in err, err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.html").exists()


def test_a_tampered_certificate_is_shown_as_no_claim(run_dir, tmp_path):
    src = _cert(run_dir)
    dst = tmp_path / src.name
    shutil.copy(src.with_suffix(".npz"), dst.with_suffix(".npz"))
    doc = json.loads(src.read_text())
    doc["graph_hash"] = "sha256:" + "0" * 64                  # a certificate for another graph
    doc["model"] = str(run_dir.resolve())
    dst.write_text(json.dumps(doc))
    v = certificate_view(dst)
    assert {e.level for e in v.evidence} == {"none"} and "No claim" in v.body and "Proved" not in v.body
    assert 'data-ok="false"' in v.body


def test_sampled_activations_are_never_certified(run_dir):
    g = load_graph(run_dir)
    c = load_certificate(_cert(run_dir))
    v = compare_methods(g, c.region, c.spec, methods=("ibp", "crown"), samples=50)
    levels = {e.what: e.level for e in v.evidence}
    assert levels["ibp bounds"] == levels["crown bounds"] == "computed"
    assert levels["activation ranges at 50 sampled inputs"] == "tested"
    assert "certified" not in levels.values()          # no checker result was passed


def test_a_page_is_self_contained_and_data_cannot_close_its_script():
    v = View("t", None, "<p>x</p>", {"s": "</script><script>alert(1)</script>", "x": float("inf")})
    html = v.html()
    assert 'http-equiv="Content-Security-Policy"' in html and "default-src 'none'" in html
    assert "</script><script>alert" not in html and '"x":"inf"' in to_json(v.data)
    for attr in ("src=", "href="):
        assert f'{attr}"http' not in html and f"{attr}'http" not in html


def test_new_artifact_kinds_register_with_one_call(tmp_path):
    art = report.register(report.Artifact("certnn-demo", "demo", lambda p, ctx: [View(f"Demo {p.name}", None)]))
    try:
        (tmp_path / "a.json").write_text('{"format": "certnn-demo"}')
        assert [v.title for v in report.views_of(tmp_path / "a.json")] == ["Demo a.json"]
        views, skipped = report.run_views(tmp_path)
        assert [v.title for v in views] == ["Demo a.json"] and skipped == []
    finally:
        del report.ARTIFACTS[art.format]


def test_the_op_panel_cites_tests_that_exist():
    for rule, entries in CONFORMANCE.items():
        for path, func, _, _, evidence, _ in entries:
            src = ROOT / path
            assert src.exists(), f"{rule}: {path} does not exist"
            if func:
                names = {n.name for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.FunctionDef)}
                assert func in names, f"{rule}: {path} has no test {func}"
            assert evidence in ("tested", "proved")


def test_notebook_representations(run_dir):
    import certnn.widgets.notebook  # noqa: F401  (attaches _repr_html_)
    g = load_graph(run_dir)
    assert g._repr_html_().startswith("<iframe srcdoc=") and "certnn.mount.graph" in g._repr_html_()
    t = Tensor(np.array([[1.0, -2.0], [0.0, 3.0]]))
    assert "(2, 2)" in t._repr_html_() and ">3<" in t._repr_html_()
    x = np.full((2, 784), 0.5)
    b = compute_bounds(g, Region.box(x - 0.01, x + 0.01), None, method="crown")
    assert "bounds-summary" in b._repr_html_()
    assert "Proved (checker)" in load_certificate(_cert(run_dir))._repr_html_()


def test_mdp_certificate_view_claims_only_what_the_checker_accepts(run_dir, tmp_path, capsys):
    from certnn.rl.gridworld import GridWorld
    from certnn.rl.mdp import MDP
    from certnn.rl.solve import forest, save_certificate, value_iteration
    for name in ("grid.json", "grid.cert.json"):
        shutil.copy(run_dir / "rl" / name, tmp_path / name)
    page = report.view_page(tmp_path / "grid.cert.json")
    assert 'class="verdict ok"' in page and 'class="claim"' in page and '"gridworld"' in page
    # a tampered value: REJECTED, no claim, nothing certified on the page
    cert = json.loads((tmp_path / "grid.cert.json").read_text())
    cert["values"][0] += 1e-9
    (tmp_path / "grid.cert.json").write_text(json.dumps(cert))
    page = report.view_page(tmp_path / "grid.cert.json")
    assert "REJECTED" in page and 'data-ok="false"' in page and "values[0]" in page
    assert 'class="claim"' not in page and 'data-level="certified"' not in page
    # a layout that does not generate the file's MDP is not drawn as that grid; a non-grid MDP gets bars
    for doc, name in ((GridWorld().to_json() | {"gridworld": {"layout": ["S..", "..G"], "slip": "0"}}, "fake"),
                      (forest().to_json(), "forest")):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        save_certificate(value_iteration(MDP.from_json(tmp_path / f"{name}.json"), 0.01), tmp_path / f"{name}.json",
                         tmp_path / f"{name}.cert.json")
        page = report.view_page(tmp_path / f"{name}.cert.json")
        assert 'class="verdict ok"' in page and '"gridworld"' not in page and "a bar per state" in page
    # without its MDP file the certificate cannot be checked: a one-line error
    (tmp_path / "forest.json").unlink()
    code, err = _cli(capsys, "view", tmp_path / "forest.cert.json", "--out", tmp_path / "x.html")
    assert code == 1 and "forest.json" in err and "cannot be checked" in err and len(err.strip().splitlines()) == 1


def test_rollout_view_draws_the_grid_only_for_possible_steps(run_dir, tmp_path, capsys):
    from certnn.rl.gridworld import GridWorld
    src = run_dir / "rl" / "dqn" / "rollouts" / "eval.npz"
    page = report.view_page(src)
    assert '"gridworld"' in page and 'data-level="tested"' in page and 'data-level="certified"' not in page
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    world = GridWorld()
    # a jump from the start to the goal keeps every value in its space (the contract passes) but is not a
    # move of the layout: the rollout is not drawn on it
    jump = {k: v.copy() for k, v in arrays.items()}
    jump["obs"][1, 0] = world.observation(min(world.goals))
    np.savez(tmp_path / "jump.npz", **jump)
    page = report.view_page(tmp_path / "jump.npz")
    assert '"gridworld"' not in page and "against time" in page
    # an observation outside the declared box: the contract rejects the file, a one-line error
    bad = {k: v.copy() for k, v in arrays.items()}
    bad["obs"][1, 0, 0] = 2.0
    np.savez(tmp_path / "bad.npz", **bad)
    code, err = _cli(capsys, "view", tmp_path / "bad.npz", "--out", tmp_path / "x.html")
    assert code == 1 and "obs" in err and len(err.strip().splitlines()) == 1
    # the report of the run folder picks the rollout up next to its log and policy
    code, err = _cli(capsys, "report", run_dir / "rl" / "dqn", "--out", tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert 'id="certnn-rollout-0"' in html and 'id="certnn.rl.run-log-0"' in html and 'id="graph"' in html


def test_a_graph_certificate_shows_one_tree_per_group(tmp_path):
    """A conv net's certificate proved group by group on the root's bounds: the view
    checks it, claims the property and draws every group's tree."""
    from certnn.ir.serialize import save
    from certnn.verify.bab import verify_case
    from certnn.verify.bab_certificate import write_bab_certificate
    from certnn.widgets.certificates import bab_view
    from tests.verify.test_bab_graph import _case
    g, region, spec = _case(2, 0.5)
    v = verify_case(g, region, spec, 30, certifiable=True)
    assert v.status == "unsat"
    save(g, tmp_path / "net.json")
    path = write_bab_certificate(tmp_path / "c.json", g, [(region, spec)], v.proofs, model_path=tmp_path / "net.json")
    view = bab_view(path)
    assert {e.level for e in view.evidence} == {"certified"} and "avoids the unsafe set" in view.body
    trees = view.data["cases"]
    assert sorted(t["leaves_file"].split("group ")[1][0] for t in trees) == [str(k) for k in range(spec.n_groups)]
    assert sum(1 for t in trees for e in t["tree"] if e[0] == -1) == sum(len(p.rows) for p in v.proofs[0])
