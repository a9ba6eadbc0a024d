"""Reinforcement learning: certified MDP solving, DQN/PPO on certnn's autograd, a checked Gymnasium boundary (issue #14)."""
