"""``certnn rl``: train and evaluate agents through the checked Gymnasium
boundary, solve finite MDPs with certified bounds, verify trained policies."""

from __future__ import annotations

import json

import click

from ..errors import CertnnError


@click.group("rl")
def rl_group():
    """Reinforcement learning: train, eval, verify, and certified MDP solving."""


@rl_group.command("train")
@click.argument("env_id")
@click.option("--algo", type=click.Choice(["dqn", "ppo"]), required=True)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Environment steps (default: the config's).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, help="Run folder to write (policy, config, log, returns.png, eval).")
@click.option("--double", is_flag=True, help="DQN: Double DQN targets.")
@click.option("--eval-episodes", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line: mean_return, steps, wall_seconds, ...")
@click.option("--no-progress", is_flag=True)
def train_cmd(env_id, algo, steps, seed, out, double, eval_episodes, as_json, no_progress):
    """Train DQN or PPO on a Gymnasium environment (e.g. CartPole-v1), then evaluate it greedily."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from ..rl.runs import make_config, train_run
    if double and algo != "dqn":
        raise click.BadParameter("--double applies to --algo dqn")
    overrides = {"double": True} if double else {}
    total = make_config(algo, env_id, steps, seed, **overrides).total_steps
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("last episode return {task.fields[ret]}"))
    with Progress(*columns, disable=no_progress or as_json, transient=True) as bar:
        task = bar.add_task(f"{algo} {env_id}", total=total, ret="-")

        def progress(step, episode_return):
            if episode_return is None:
                bar.update(task, completed=step)
            else:
                bar.update(task, completed=step, ret=f"{episode_return:.1f}")

        res = train_run(algo, env_id, out, steps, seed, eval_episodes, progress, **overrides)
    if as_json:
        click.echo(json.dumps(res))
        return
    click.echo(f"{algo} on {env_id}, seed {seed}: {res['steps']} steps in {res['wall_seconds']:.0f} s "
               f"({res['ms_per_update']:.2f} ms per update)")
    click.echo(f"greedy evaluation: mean return {res['mean_return']:.1f} +- {res['std_return']:.1f} over "
               f"{res['episodes']} episodes (evidence: {res['evidence']})")
    click.echo(f"run folder: {out} (returns.png, eval.json, rollouts/eval.npz re-checked by the contract)")


@rl_group.command("eval")
@click.argument("folder")
@click.option("--episodes", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--seed", type=int, default=100_000, show_default=True, help="Seed of the first episode.")
@click.option("--json", "as_json", is_flag=True)
def eval_cmd(folder, episodes, seed, as_json):
    """Greedy episodes of a trained run, recorded and re-checked by the transition contract."""
    from ..rl.runs import evaluate_run
    res = evaluate_run(folder, episodes, seed)
    if as_json:
        click.echo(json.dumps(res))
        return
    click.echo(f"{res['kind']} on {res['env_id']}: mean return {res['mean_return']:.2f} +- {res['std_return']:.2f} "
               f"(min {res['min_return']:.1f}, max {res['max_return']:.1f}) over {res['episodes']} episodes, "
               f"seeds {res['seeds'][0]}..{res['seeds'][1]}")
    click.echo(f"rollout {res['rollout']}: {res['recheck']['steps']} steps re-checked by the contract")


@rl_group.command("verify")
@click.argument("folder")
@click.option("--boxes", type=click.IntRange(min=1), default=6, show_default=True,
              help="Boxes per state dimension (the grid has boxes^d boxes).")
@click.option("--method", type=click.Choice(["ibp", "crown", "alpha-crown"]), default="crown", show_default=True)
@click.option("--low", default=None, help="State rectangle lower corner, comma separated (default: known per env).")
@click.option("--high", default=None, help="State rectangle upper corner, comma separated.")
@click.option("--action", type=click.IntRange(min=0), default=None,
              help="Certify that this action is the greedy one on every box (e.g. with --low/--high: 'when the "
                   "pole turns right faster than X, push right').")
@click.option("--json", "as_json", is_flag=True)
def verify_cmd(folder, boxes, method, low, high, action, as_json):
    """Certify the trained policy's greedy action on a grid of state boxes; the certificate is re-checked."""
    from ..rl.runs import verify_run
    corners = [None if v is None else _floats(v, opt) for v, opt in ((low, "--low"), (high, "--high"))]
    if (low is None) != (high is None):
        raise click.BadParameter("give both --low and --high, or neither")
    res = verify_run(folder, boxes, method, *corners, action=action)
    if as_json:
        click.echo(json.dumps(res))
        return
    what = "greedy action certified constant" if action is None else f"action {action} certified greedy"
    click.echo(f"{res['kind']} on {res['env_id']}: {what} on {res['certified']} of {res['boxes']} boxes "
               f"({100 * res['fraction']:.1f}%) of [{res['state_low']}, {res['state_high']}]; per action: "
               f"{res['actions']}")
    click.echo(f"certificate {res['certificate']}: checker {'accepted' if res['checker_ok'] else 'REJECTED'} "
               f"(evidence {res['evidence']}; assumptions: {', '.join(res['assumptions']) or 'none'})")
    if res["certificate"] and not res["checker_ok"]:
        raise SystemExit(1)


def _floats(text: str, opt: str) -> list:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"{opt} wants comma-separated numbers, got {text!r}") from None


@rl_group.group("mdp")
def mdp_group():
    """Finite MDPs with certified answers."""


@mdp_group.command("solve")
@click.argument("file")
@click.option("--eps", type=float, default=1e-6, show_default=True,
              help="Target suboptimality of the greedy policy (> 0).")
@click.option("--max-iter", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--exact", is_flag=True, help="Also compute V* exactly (rational policy iteration) and compare.")
@click.option("--certificate", default=None, help="Write the certificate (re-checked by `certnn rl mdp check`).")
@click.option("--json", "as_json", is_flag=True)
def mdp_solve_cmd(file, eps, max_iter, exact, certificate, as_json):
    """Value iteration on FILE ({"gamma", "transitions": P[a][s][s'], "rewards": R[s][a]}) with a certified
    bound on the distance to V* and an eps-optimal greedy policy."""
    from ..rl.mdp import MDP
    from ..rl.solve import exact_distance, policy_iteration, save_certificate, value_iteration
    if not eps > 0:
        raise click.BadParameter(f"--eps must be > 0, got {eps}")
    mdp = MDP.from_json(file)
    result = value_iteration(mdp, eps, max_iter)
    res = result.to_dict()
    if certificate:
        res["certificate"] = str(save_certificate(result, file, certificate))
    if exact:
        pi = policy_iteration(mdp)
        res["exact"] = {"values": pi.floats().tolist(), "policy": pi.policy.tolist(),
                        "distance": exact_distance(res["values"], pi.values), "evidence": pi.evidence}
    if as_json:
        click.echo(json.dumps(res))
        return
    click.echo(f"{mdp.n_states} states, {mdp.n_actions} actions, gamma {mdp.gamma}: {res['iterations']} iterations")
    click.echo("V = " + ", ".join(f"{v:.6g}" for v in res["values"]))
    click.echo("policy = " + " ".join(str(a) for a in res["policy"]))
    click.echo(f"certified: ||V - V*||_inf <= {res['bound']:.3g}; the policy is within {res['policy_bound']:.3g} "
               f"of optimal ({'eps-optimal' if res['eps_optimal'] else 'NOT eps-optimal'} for eps {eps})")
    if exact:
        click.echo(f"exact V* (policy iteration): ||V - V*||_inf = {res['exact']['distance']:.3g}")
    click.echo(f"evidence: {res['evidence']}; theorems: {', '.join(res['theorems'])}; "
               f"assumptions: {', '.join(res['assumptions'])}")
    if certificate:
        click.echo(f"certificate: {certificate} (check with: certnn rl mdp check {file} {certificate})")
    if not res["eps_optimal"]:
        raise CertnnError(f"value iteration did not certify an eps-optimal policy in {max_iter} iterations")


@mdp_group.command("check")
@click.argument("file")
@click.argument("certificate")
@click.option("--json", "as_json", is_flag=True)
def mdp_check_cmd(file, certificate, as_json):
    """Re-check a value certificate against the MDP FILE in exact arithmetic (exit 1 when refused)."""
    from ..rl.mdp_check import check_certificate
    res = check_certificate(file, certificate).to_dict()
    if as_json:
        click.echo(json.dumps(res))
    elif res["ok"]:
        click.echo(f"accepted: ||values - V*||_inf <= {res['bound']:.3g}, the policy is within "
                   f"{res['policy_bound']:.3g} of optimal (evidence {res['evidence']}; assumptions: "
                   f"{', '.join(res['assumptions'])})")
    else:
        click.echo("REJECTED: " + "; ".join(res["problems"]))
    if not res["ok"]:
        raise SystemExit(1)
