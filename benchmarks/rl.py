"""Reinforcement learning benchmark (issue #14): certified MDP solving against
pymdptoolbox and exact V*, DQN/PPO training on CartPole-v1 and PPO on
Pendulum-v1, per-update time against PyTorch CPU (same network, batch and
loss, measured in the same run), float32 error bounds of the TD target and
GAE, and the certified fraction of a CartPole state grid.

    .venv/bin/python benchmarks/rl.py [--sections mdp,update,float,dqn,ppo,pendulum,verify,property,sb3]
                                      [--seeds 0,1,2] [--runs runs/rl-bench]

Each section updates its own entry of benchmarks/results/rl.json, so sections
can be run separately. Timings are wall seconds and process CPU seconds (the
machine may be shared; CPU seconds are the steadier figure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "rl.json"


def _rel(p) -> str:
    return os.path.relpath(Path(p).resolve(), ROOT)


# ---- certified MDP solving -----------------------------------------------------------------------

def section_mdp(args) -> dict:
    from certnn.rl.mdp import MDP
    from certnn.rl.solve import exact_distance, forest, policy_iteration, value_iteration
    out = {}
    m = forest()
    exact = policy_iteration(m)
    ours = value_iteration(m, eps=0.01)
    row = {"exact_v_star": exact.floats().tolist(), "certnn_values": ours.values.tolist(),
           "certnn_bound": ours.bound, "certnn_distance": exact_distance(ours.values, exact.values),
           "certnn_policy_bound": ours.policy_bound, "certnn_iterations": ours.iterations,
           "certnn_eps_optimal": ours.eps_optimal}
    try:
        import mdptoolbox.example
        import mdptoolbox.mdp
        P, R = mdptoolbox.example.forest()
        assert np.array_equal(P, m.transitions) and np.array_equal(R, m.rewards), "forest definitions differ"
        vi = mdptoolbox.mdp.ValueIteration(P, R, 0.96, epsilon=0.01)
        vi.run()
        row.update(pymdptoolbox_values=list(vi.V), pymdptoolbox_iterations=vi.iter,
                   pymdptoolbox_distance=exact_distance(vi.V, exact.values))
    except ImportError:
        row["pymdptoolbox"] = "not installed (pip install pymdptoolbox)"
    out["forest"] = row

    rng = np.random.default_rng(0)
    n, violations, worst, t0, c0 = args.random_mdps, 0, 0.0, time.perf_counter(), time.process_time()
    for _ in range(n):
        S, A = int(rng.integers(2, 11)), int(rng.integers(2, 6))
        P = rng.random((A, S, S)) ** 3
        P /= P.sum(axis=2, keepdims=True)
        mdp = MDP(P, rng.normal(size=(S, A)) * 10, float(rng.uniform(0, 0.99)))
        res = value_iteration(mdp, eps=1e-3)
        d = exact_distance(res.values, policy_iteration(mdp).values)
        violations += d > res.bound
        worst = max(worst, d / res.bound if res.bound > 0 else 0.0)
    out["random"] = {"mdps": n, "states": "2..10", "actions": "2..5", "gamma": "U(0, 0.99)", "eps": 1e-3,
                     "violations": int(violations), "max_distance_over_bound": worst,
                     "wall_seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    print(f"forest: certnn ||V - V*|| = {row['certnn_distance']:.3g} <= bound {row['certnn_bound']:.3g}; "
          f"pymdptoolbox ||V - V*|| = {row.get('pymdptoolbox_distance', float('nan')):.3g}")
    print(f"random MDPs: {n}, bound violations {violations}, max distance/bound {worst:.3f}")
    return out


# ---- per-update time against PyTorch -------------------------------------------------------------

def _torch_mlp(sizes, act):
    import torch
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), act()]
    return torch.nn.Sequential(*layers[:-1])


def section_update(args) -> dict:
    import torch
    from threadpoolctl import threadpool_limits
    from certnn.rl.dqn import DQN, DQNConfig
    from certnn.rl.ppo import PPO, PPOConfig
    import gymnasium as gym
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    out = {}
    with threadpool_limits(1, "blas"):
        # DQN: the default CartPole learner (its hidden sizes, batch 64, Huber, grad clip 10, Adam); the torch
        # update does exactly the same work (Double DQN targets only when the config asks for them)
        cfg = DQNConfig()
        learner = DQN(cfg, 4, 2)
        for _ in range(2000):
            learner.buffer.add(rng.normal(size=4), rng.integers(2), 1.0, rng.normal(size=4), rng.random() < 0.05)
        q, qt = _torch_mlp([4, *cfg.hidden, 2], torch.nn.ReLU), _torch_mlp([4, *cfg.hidden, 2], torch.nn.ReLU)
        opt = torch.optim.Adam(q.parameters(), lr=cfg.lr)

        def torch_dqn():
            b = learner.buffer.sample(cfg.batch_size)
            o, no = torch.from_numpy(b["obs"]), torch.from_numpy(b["next_obs"])
            with torch.no_grad():
                q_next = qt(no)
                a2 = q(no).argmax(1) if cfg.double else q_next.argmax(1)
                y = torch.from_numpy(b["reward"]) + cfg.gamma * (1 - torch.from_numpy(b["terminated"]).float()) \
                    * q_next.gather(1, a2[:, None])[:, 0]
            qa = q(o).gather(1, torch.from_numpy(b["action"])[:, None])[:, 0]
            loss = torch.nn.functional.smooth_l1_loss(qa, y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(q.parameters(), cfg.max_grad_norm)
            opt.step()
        out["dqn"] = _race(learner.update, torch_dqn, args.update_reps)
        out["dqn"].update(net="-".join(map(str, (4, *cfg.hidden, 2))) + " relu", batch=cfg.batch_size,
                          double=cfg.double)

        # PPO: the CartPole learner (separate tanh actor and critic of the config's sizes, one minibatch)
        pcfg = PPOConfig()
        ppo = PPO(pcfg, 4, gym.spaces.Discrete(2))
        n = pcfg.batch_size
        batch = {"obs": rng.normal(size=(n, 4)).astype(np.float32), "action": rng.integers(0, 2, n),
                 "logp": np.full(n, -0.69, np.float32), "adv": rng.normal(size=n).astype(np.float32),
                 "ret": rng.normal(size=n).astype(np.float32)}

        def certnn_ppo():
            loss = ppo.loss(batch["obs"], batch["action"], batch["logp"], batch["adv"], batch["ret"], pcfg.clip)
            ppo.opt.zero_grad()
            loss.backward()
            from certnn import optim
            optim.clip_grad_norm(ppo.opt.params, pcfg.max_grad_norm)
            ppo.opt.step()

        actor, critic = _torch_mlp([4, *pcfg.hidden, 2], torch.nn.Tanh), _torch_mlp([4, *pcfg.hidden, 1], torch.nn.Tanh)
        params = list(actor.parameters()) + list(critic.parameters())
        topt = torch.optim.Adam(params, lr=pcfg.lr, eps=1e-5)
        tb = {k: torch.from_numpy(np.asarray(v)) for k, v in batch.items()}

        def torch_ppo():
            adv = (tb["adv"] - tb["adv"].mean()) / (tb["adv"].std() + 1e-8)
            dist = torch.distributions.Categorical(logits=actor(tb["obs"]))
            ratio = (dist.log_prob(tb["action"]) - tb["logp"]).exp()
            pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - pcfg.clip, 1 + pcfg.clip)).mean()
            vl = ((critic(tb["obs"])[:, 0] - tb["ret"]) ** 2).mean()
            loss = pg + pcfg.vf_coef * vl - pcfg.ent_coef * dist.entropy().mean()
            topt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, pcfg.max_grad_norm)
            topt.step()
        out["ppo"] = _race(certnn_ppo, torch_ppo, args.update_reps)
        h = "-".join(map(str, pcfg.hidden))
        out["ppo"].update(net=f"actor 4-{h}-2 tanh + critic 4-{h}-1 tanh", batch=n)
    for k, v in out.items():
        print(f"per-update {k}: certnn {v['certnn_ms']:.3f} ms, torch {v['torch_ms']:.3f} ms, "
              f"ratio {v['ratio']:.2f}")
    return out


def _race(ours, theirs, reps: int) -> dict:
    """Median ms per call, alternating blocks of the two (same run, same load)."""
    for f in (ours, theirs):
        for _ in range(30):
            f()
    times = {"certnn": [], "torch": []}
    for _ in range(reps):
        for name, f in (("certnn", ours), ("torch", theirs)):
            t0 = time.perf_counter()
            for _ in range(50):
                f()
            times[name].append((time.perf_counter() - t0) / 50 * 1000)
    a, b = float(np.median(times["certnn"])), float(np.median(times["torch"]))
    return {"certnn_ms": a, "torch_ms": b, "ratio": a / b, "blocks": reps, "calls_per_block": 50}


# ---- float32 error bounds -------------------------------------------------------------------------

def section_float(args) -> dict:
    from certnn import run
    from certnn.rl.float_bounds import bound, gae_graph, gae_inputs, td_target_graph, td_target_inputs
    from certnn.rl.policies import network
    from certnn.rl.returns import gae, td_target
    from certnn.tensor import Tensor, no_grad
    rng = np.random.default_rng(0)
    out = {}
    q = network(4, (64, 64), 2)
    s = rng.normal(size=(256, 4)).astype(np.float32)
    r, term = np.ones(256, np.float32), rng.random(256) < 0.05
    with no_grad():
        qn = q(Tensor(s)).data
    a = qn.argmax(1)
    y = td_target(r, qn[np.arange(256), a], term, 0.99)
    g = td_target_graph(q, 4, 2, 0.99)
    x = td_target_inputs(r, term, s, a, 2)
    real = run(g, x.astype(np.float64), "real")
    seq, anyo = bound(g, x), bound(g, x, order="any")
    b32 = run(g, x, "binary32")
    out["td_target"] = {"batch": 256, "net": "4-64-64-2", "bound_sequential": float(seq.bound.max()),
                        "measured_binary32": float(np.abs(b32 - real).max()),
                        "bound_any_order": float(anyo.bound.max()), "measured_blas": float(np.abs(y - real).max()),
                        "holds": bool(np.all(np.abs(b32 - real) <= seq.bound) and np.all(np.abs(y - real) <= anyo.bound))}
    T, N = 128, 8
    rw = np.ones((T, N), np.float32)
    v = rng.uniform(0, 100, (T, N)).astype(np.float32)
    vn = rng.uniform(0, 100, (T, N)).astype(np.float32)
    te, tr = rng.random((T, N)) < 0.01, rng.random((T, N)) < 0.01
    adv, _ = gae(rw, v, vn, te, tr, 0.99, 0.95)
    gg = gae_graph(T, 0.99, 0.95)
    xg = gae_inputs(rw, v, vn, te, tr)
    bg = run(gg, xg, "binary32")
    rg = run(gg, xg.astype(np.float64), "real")
    fb = bound(gg, xg)
    out["gae"] = {"T": T, "envs": N, "bit_equal_to_trainer": bool(np.array_equal(bg, adv.T)),
                  "bound": float(fb.bound.max()), "measured": float(np.abs(bg - rg).max()),
                  "holds": bool(np.all(np.abs(bg - rg) <= fb.bound)), "evidence": fb.evidence,
                  "assumptions": list(fb.assumptions)}
    for k, v in out.items():
        print(f"float32 {k}: {json.dumps(v)}")
    return out


# ---- training --------------------------------------------------------------------------------------

def _train(algo, env_id, seeds, runs, steps=None) -> dict:
    from certnn.rl.runs import train_run
    rows = []
    for seed in seeds:
        c0 = time.process_time()
        res = train_run(algo, env_id, Path(runs) / f"{algo}-{env_id}-seed{seed}", steps, seed)
        res["cpu_seconds"] = time.process_time() - c0
        res["out"] = _rel(res["out"])
        rows.append(res)
        print(f"{algo} {env_id} seed {seed}: mean return {res['mean_return']:.1f} +- {res['std_return']:.1f}, "
              f"{res['wall_seconds']:.0f} s wall, {res['cpu_seconds']:.0f} s CPU")
    return {"runs": rows, "seeds": list(seeds), "means": [r["mean_return"] for r in rows]}


def section_dqn(args) -> dict:
    res = _train("dqn", "CartPole-v1", args.seeds, args.runs)
    res["target"] = ">= 475 on 3/3 seeds"
    res["met"] = sum(m >= 475 for m in res["means"])
    return res


def section_ppo(args) -> dict:
    res = _train("ppo", "CartPole-v1", args.seeds, args.runs)
    res["target"] = ">= 475 on 3/3 seeds"
    res["met"] = sum(m >= 475 for m in res["means"])
    return res


def section_pendulum(args) -> dict:
    res = _train("ppo", "Pendulum-v1", args.pendulum_seeds, args.runs)
    res["target"] = ">= -200"
    res["met"] = sum(m >= -200 for m in res["means"])
    return res


def section_verify(args) -> dict:
    from certnn.rl.runs import verify_run
    out = {}
    for algo in ("dqn", "ppo"):
        folder = Path(args.runs) / f"{algo}-CartPole-v1-seed{args.seeds[0]}"
        if not folder.exists():
            out[algo] = "no run folder (run the training sections first)"
            continue
        c0 = time.process_time()
        res = verify_run(folder, args.boxes)
        res["cpu_seconds"] = time.process_time() - c0
        res["certificate"] = _rel(res["certificate"]) if res["certificate"] else None
        out[algo] = res
        print(f"verify {algo}: {res['certified']}/{res['boxes']} boxes certified ({100 * res['fraction']:.1f}%), "
              f"checker ok: {res['checker_ok']}")
    return out


def section_property(args) -> dict:
    """A stated safety property: when the pole turns right at >= X rad/s, the policy pushes right."""
    from certnn.rl.runs import verify_run
    from certnn.rl.verified_policy import CARTPOLE_STATES
    out = {}
    for algo in ("dqn", "ppo"):
        folder = Path(args.runs) / f"{algo}-CartPole-v1-seed{args.seeds[0]}"
        if not folder.exists():
            continue
        rows = []
        for x in (0.5, 1.0, 2.0):
            lo, hi = CARTPOLE_STATES[0].copy(), CARTPOLE_STATES[1].copy()
            lo[3] = x
            c0 = time.process_time()
            res = verify_run(folder, args.property_boxes, low=lo, high=hi, action=1, name=f"push-right-{x}")
            rows.append({"theta_dot_at_least": x, "boxes": res["boxes"], "certified": res["certified"],
                         "fraction": res["fraction"], "checker_ok": res["checker_ok"],
                         "cpu_seconds": time.process_time() - c0,
                         "certificate": _rel(res["certificate"]) if res["certificate"] else None})
            print(f"property {algo}: theta_dot >= {x} -> push right on {res['certified']}/{res['boxes']} boxes")
        out[algo] = rows
    return out


# ---- the same training in Stable-Baselines3 (same run, same hyperparameters and protocol) ----------

def _sb3_train(algo: str, seed: int, out: Path) -> dict:
    """SB3 with certnn's CartPole config (rl-baselines3-zoo's settings, certnn's network sizes), the same
    model selection (EvalCallback: best of periodic 20-episode greedy evaluations) and the same final
    100 greedy episodes (seeds 100000...)."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN as SB3DQN, PPO as SB3PPO
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from certnn.rl.dqn import DQNConfig
    from certnn.rl.ppo import PPOConfig
    from certnn.rl.runs import FINAL_EVAL_SEED
    torch.set_num_threads(1)
    if algo == "dqn":
        c = DQNConfig()
        model = SB3DQN("MlpPolicy", "CartPole-v1", learning_rate=c.lr, batch_size=c.batch_size,
                       buffer_size=c.buffer_size, learning_starts=c.learning_starts, gamma=c.gamma,
                       target_update_interval=c.target_update, train_freq=c.train_freq,
                       gradient_steps=c.gradient_steps, exploration_fraction=c.eps_fraction,
                       exploration_initial_eps=c.eps_start, exploration_final_eps=c.eps_end,
                       max_grad_norm=c.max_grad_norm, policy_kwargs={"net_arch": list(c.hidden)}, seed=seed,
                       device="cpu")
        every, steps, n_envs = c.eval_every, c.total_steps, 1
    else:
        c = PPOConfig()
        env = make_vec_env("CartPole-v1", n_envs=c.n_envs, seed=seed)
        model = SB3PPO("MlpPolicy", env, n_steps=c.n_steps, batch_size=c.batch_size, n_epochs=c.n_epochs,
                       learning_rate=lambda p: p * c.lr, clip_range=lambda p: p * c.clip, gamma=c.gamma,
                       gae_lambda=c.gae_lambda, ent_coef=c.ent_coef, vf_coef=c.vf_coef,
                       max_grad_norm=c.max_grad_norm, policy_kwargs={"net_arch": list(c.hidden)}, seed=seed,
                       device="cpu")
        every, steps, n_envs = c.eval_every, c.total_steps, c.n_envs
    best = out / f"sb3-{algo}-seed{seed}"
    callback = EvalCallback(gym.make("CartPole-v1"), n_eval_episodes=c.eval_episodes,
                            eval_freq=max(1, every // n_envs), best_model_save_path=str(best), deterministic=True,
                            verbose=0)
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(steps, callback=callback)
    train_wall, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    model = (SB3DQN if algo == "dqn" else SB3PPO).load(best / "best_model", device="cpu")
    env, returns = gym.make("CartPole-v1"), []
    for i in range(100):
        obs, _ = env.reset(seed=FINAL_EVAL_SEED + i)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(int(model.predict(obs, deterministic=True)[0]))
            total, done = total + r, term or trunc
        returns.append(total)
    return {"mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
            "train_wall_seconds": train_wall, "train_cpu_seconds": train_cpu}


def section_sb3(args) -> dict:
    """CartPole DQN and PPO: certnn and Stable-Baselines3, one after the other in this run, same seed."""
    from certnn.rl.dqn import train_dqn
    from certnn.rl.ppo import train_ppo
    from certnn.rl.runs import FINAL_EVAL_SEED, make_config
    from certnn.rl.agent import evaluate
    import stable_baselines3
    out, seed = Path(args.runs) / "peer", args.seeds[0]
    rows = json.loads(RESULTS.read_text()).get("sb3", {}) if RESULTS.exists() else {}   # keep the other algo's row
    rows.pop("section_wall_seconds", None)
    for algo in args.peer_algos.split(","):
        t0, c0 = time.perf_counter(), time.process_time()
        agent, _ = (train_dqn if algo == "dqn" else train_ppo)(make_config(algo, "CartPole-v1", None, seed))
        ours = {"train_wall_seconds": time.perf_counter() - t0, "train_cpu_seconds": time.process_time() - c0}
        ev = evaluate(agent, 100, FINAL_EVAL_SEED)
        ours.update(mean_return=float(np.mean(ev.returns)), std_return=float(np.std(ev.returns)))
        theirs = _sb3_train(algo, seed, out)
        rows[algo] = {"seed": seed, "certnn": ours, "sb3": theirs,
                      "cpu_ratio": ours["train_cpu_seconds"] / theirs["train_cpu_seconds"],
                      "wall_ratio": ours["train_wall_seconds"] / theirs["train_wall_seconds"]}
        print(f"{algo} CartPole seed {seed}: certnn {ours['mean_return']:.1f} in {ours['train_cpu_seconds']:.0f} s CPU; "
              f"SB3 {theirs['mean_return']:.1f} in {theirs['train_cpu_seconds']:.0f} s CPU "
              f"(CPU ratio {rows[algo]['cpu_ratio']:.2f})")
    rows["sb3_version"] = stable_baselines3.__version__
    return rows


# the reference figures (published, not run here): what the training sections compare to
ANCHORS = {
    "CartPole-v1 ppo": "CleanRL PPO 490.0 +- 6.1 after 500k steps in 10.5 min on CPU; SB3 zoo PPO 500 after 100k steps",
    "CartPole-v1 dqn": "SB3 zoo DQN 500 after 50k steps",
    "Pendulum-v1 ppo": "SB3 zoo PPO -172 after 100k steps (TD3/SAC about -152 after 20k)",
    "targets": "CartPole >= 475 on 3/3 seeds in <= 10 min wall each; Pendulum >= -200; per update <= 1.5x PyTorch",
}

SECTIONS = {"mdp": section_mdp, "update": section_update, "float": section_float, "dqn": section_dqn,
            "ppo": section_ppo, "pendulum": section_pendulum, "verify": section_verify, "property": section_property, "sb3": section_sb3}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--pendulum-seeds", default="0")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "rl-bench"))
    ap.add_argument("--random-mdps", type=int, default=10_000)
    ap.add_argument("--update-reps", type=int, default=7)
    ap.add_argument("--boxes", type=int, default=8, help="CartPole grid boxes per dimension")
    ap.add_argument("--peer-algos", default="ppo,dqn", help="sb3 section: which CartPole algorithms to race")
    ap.add_argument("--property-boxes", type=int, default=6, help="boxes per dimension for the safety property")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.pendulum_seeds = [int(s) for s in args.pendulum_seeds.split(",")]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    import platform
    for name in args.sections.split(","):
        t0 = time.perf_counter()
        results[name] = SECTIONS[name](args)
        results[name]["section_wall_seconds"] = time.perf_counter() - t0
        results["anchors"] = ANCHORS
        results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "load_average_at_end": list(os.getloadavg()),
                              "note": "shared machine; compare ratios measured in the same run"}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    print(f"wrote {_rel(RESULTS)}")


if __name__ == "__main__":
    main()
